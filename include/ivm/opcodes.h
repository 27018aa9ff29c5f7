/* The ivm instruction set: one list that generates everything else (the
 * opcode enum, the interpreter's dispatch table, the names the assembler
 * and disassembler use, and the operand kinds the verifier checks).
 *
 * ivm is a register machine. Each function has up to 255 registers R[0..];
 * its parameters arrive in R[0..nparams-1]. Every instruction is one 32-bit
 * little-endian word:
 *
 *    31      24 23      16 15       8 7        0
 *   +----------+----------+----------+----------+
 *   |    C     |    B     |    A     |  opcode  |   ABC
 *   +----------+----------+----------+----------+
 *   |         Bx          |    A     |  opcode  |   ABx   (Bx unsigned)
 *   +---------------------+----------+----------+
 *   |         sBx         |    A     |  opcode  |   AsBx  (sBx = Bx - 32768)
 *   +---------------------+----------+----------+
 *   |              sJ                |  opcode  |   sJ    (sJ = bits - 2^23)
 *   +--------------------------------+----------+
 *
 * Operand kinds (what the verifier checks before anything runs):
 *   R  a register: below the function's register count
 *   K  a constant index: below the function's constant count
 *   G  a constant that is a symbol: names a global
 *   P  a constant that is a prototype: the function a CLOSURE makes
 *   C  a capture index: below the running function's capture count
 *   N  a count: registers A..A+N (LOADNIL), A+1..A+N (calls) or
 *      B..B+N-1 (MULTIFN, N >= 1; VECTOR) exist
 *   I  a signed immediate: sBx, or sB / sC (the byte as int8)
 *   k  a flag: 0 or 1
 *   J  a jump: target = (index of the next instruction) + offset, inside
 *      the function
 *   _  unused: must be zero
 *
 * Calls: CALL A B runs the callee with its R[0..] over the caller's
 * R[A+1..], so the arguments are not copied; the callee may overwrite any of
 * the caller's registers from R[A] up, and the result lands in R[A]. A
 * caller keeps what it needs below R[A]: the rest is undefined after the
 * call, whatever the callee (the collector clears it after a native).
 *
 * Conditional tests (EQ..GEI, TEST, LOOPLT) must be followed by a JMP: when the
 * test's outcome equals k the jump is taken, otherwise it is skipped. The
 * interpreter executes that jump directly, so a test and its jump cost one
 * dispatch.
 *
 * Arithmetic follows Clojure: integers are 64-bit and overflow raises
 * "integer overflow"; an integer mixed with a float gives a float; DIV of
 * two integers gives an integer when exact and a float otherwise (ivm has
 * no ratios); integer division by zero raises "Divide by zero". `=` (EQ) is
 * Clojure's structural equality, so 1 and 1.0 are not equal.
 */
#ifndef IVM_OPCODES_H
#define IVM_OPCODES_H

/* X(name, format, kind of A, kind of B, kind of C) */
#define IVM_OPCODES(X)                                                         \
    /* R[A] := R[B] */                                                         \
    X(MOVE, ABC, R, R, _)                                                      \
    /* R[A] := K[Bx] */                                                        \
    X(LOADK, ABX, R, K, _)                                                     \
    /* R[A] := sBx (an integer) */                                             \
    X(LOADI, ASBX, R, I, _)                                                    \
    /* R[A], R[A+1], ..., R[A+B] := nil */                                     \
    X(LOADNIL, ABC, R, N, _)                                                   \
    /* R[A] := true */                                                         \
    X(LOADTRUE, ABC, R, _, _)                                                  \
    /* R[A] := false */                                                        \
    X(LOADFALSE, ABC, R, _, _)                                                 \
    /* R[A] := the value of global K[Bx]; error if it has none */              \
    X(GETGLOBAL, ABX, R, G, _)                                                 \
    /* global K[Bx] := R[A] */                                                 \
    X(SETGLOBAL, ABX, R, G, _)                                                 \
    /* R[A] := capture B of the running closure */                             \
    X(GETCAP, ABC, R, C, _)                                                    \
    /* R[A] := the function this frame was called as (a named fn's self) */  \
    X(SELF, ABC, R, _, _)                                                      \
    /* R[A] := a closure of prototype K[Bx], capturing what it describes */    \
    X(CLOSURE, ABX, R, P, _)                                                   \
    /* R[A] := R[B] + R[C] */                                                  \
    X(ADD, ABC, R, R, R)                                                       \
    /* R[A] := R[B] - R[C] */                                                  \
    X(SUB, ABC, R, R, R)                                                       \
    /* R[A] := R[B] * R[C] */                                                  \
    X(MUL, ABC, R, R, R)                                                       \
    /* R[A] := R[B] / R[C] */                                                  \
    X(DIV, ABC, R, R, R)                                                       \
    /* R[A] := quot(R[B], R[C]) (truncating division) */                       \
    X(QUOT, ABC, R, R, R)                                                      \
    /* R[A] := rem(R[B], R[C]) (sign of the dividend) */                       \
    X(REM, ABC, R, R, R)                                                       \
    /* R[A] := mod(R[B], R[C]) (sign of the divisor) */                        \
    X(MOD, ABC, R, R, R)                                                       \
    /* R[A] := R[B] + sC */                                                    \
    X(ADDI, ABC, R, R, I)                                                      \
    /* R[A] := -R[B] */                                                        \
    X(NEG, ABC, R, R, _)                                                       \
    /* R[A] := not R[B] (true when R[B] is nil or false) */                    \
    X(NOT, ABC, R, R, _)                                                       \
    /* if ((R[A] = R[B]) == k) jump by the next JMP, else skip it */           \
    X(EQ, ABC, R, R, k)                                                        \
    /* if ((R[A] < R[B]) == k) jump by the next JMP, else skip it */           \
    X(LT, ABC, R, R, k)                                                        \
    /* if ((R[A] <= R[B]) == k) jump by the next JMP, else skip it */          \
    X(LE, ABC, R, R, k)                                                        \
    /* if ((R[A] = sB) == k) jump by the next JMP, else skip it */             \
    X(EQI, ABC, R, I, k)                                                       \
    /* if ((R[A] < sB) == k) jump by the next JMP, else skip it */             \
    X(LTI, ABC, R, I, k)                                                       \
    /* if ((R[A] <= sB) == k) jump by the next JMP, else skip it */            \
    X(LEI, ABC, R, I, k)                                                       \
    /* if ((R[A] > sB) == k) jump by the next JMP, else skip it */             \
    X(GTI, ABC, R, I, k)                                                       \
    /* if ((R[A] >= sB) == k) jump by the next JMP, else skip it */            \
    X(GEI, ABC, R, I, k)                                                       \
    /* if (truthy(R[A]) == k) jump by the next JMP, else skip it */            \
    X(TEST, ABC, R, k, _)                                                      \
    /* R[A] := R[A] + sC; if (R[A] < R[B]) jump by the next JMP, else skip   \
       it: the back edge of a counting loop, one dispatch an iteration */      \
    X(LOOPLT, ABC, R, R, I)                                                    \
    /* pc += sJ */                                                             \
    X(JMP, SJ, J, _, _)                                                        \
    /* R[A] := R[A](R[A+1], ..., R[A+B]) */                                    \
    X(CALL, ABC, R, N, _)                                                      \
    /* return R[A](R[A+1], ..., R[A+B]), reusing this frame */                 \
    X(TAILCALL, ABC, R, N, _)                                                  \
    /* return R[A] */                                                          \
    X(RET, ABC, R, _, _)                                                       \
    /* R[A] := a function of the arities of closures R[B], ..., R[B+C-1] */   \
    X(MULTIFN, ABC, R, R, N)                                                   \
    /* until the matching ENDTRY, an error jumps to pc + sBx with the       \
       thrown value in R[A]; the handler is dropped when it catches, and a   \
       return drops its frame's handlers */                                   \
    X(TRY, ASBX, R, J, _)                                                      \
    /* drop the innermost handler (the TRY of this frame) */                  \
    X(ENDTRY, ABC, _, _, _)                                                    \
    /* throw R[A] */                                                          \
    X(THROW, ABC, R, _, _)                                                     \
    /* R[A] := [R[B] ... R[B+C-1]], a new vector (vector literals) */         \
    X(VECTOR, ABC, R, R, N)

typedef enum ivm_opcode {
#define IVM_OPCODE_ENUM(name, fmt, a, b, c) IVM_OP_##name,
    IVM_OPCODES(IVM_OPCODE_ENUM)
#undef IVM_OPCODE_ENUM
    IVM_OP_COUNT
} ivm_opcode;

typedef enum ivm_op_format { IVM_FMT_ABC, IVM_FMT_ABX, IVM_FMT_ASBX, IVM_FMT_SJ } ivm_op_format;

typedef enum ivm_operand_kind {
    IVM_OPK__, /* unused */
    IVM_OPK_R,
    IVM_OPK_K,
    IVM_OPK_G,
    IVM_OPK_P,
    IVM_OPK_C,
    IVM_OPK_N,
    IVM_OPK_I,
    IVM_OPK_k,
    IVM_OPK_J,
} ivm_operand_kind;

typedef struct ivm_op_info {
    const char *name;
    ivm_op_format format;
    ivm_operand_kind a, b, c;
} ivm_op_info;

/* Indexed by ivm_opcode; defined in src/bytecode/opcodes.c. */
extern const ivm_op_info ivm_op_table[IVM_OP_COUNT];

/* ---- Encoding and decoding --------------------------------------------- */

#define IVM_SBX_BIAS 32768
#define IVM_SJ_BIAS (1 << 23)
#define IVM_SJ_MAX ((1 << 23) - 1)
#define IVM_SJ_MIN (-(1 << 23))

#define IVM_GET_OP(i) ((unsigned)((i) & 0xff))
#define IVM_GET_A(i) ((unsigned)(((i) >> 8) & 0xff))
#define IVM_GET_B(i) ((unsigned)(((i) >> 16) & 0xff))
#define IVM_GET_C(i) ((unsigned)((i) >> 24))
#define IVM_GET_SB(i) ((int)(signed char)IVM_GET_B(i))
#define IVM_GET_SC(i) ((int)(signed char)IVM_GET_C(i))
#define IVM_GET_BX(i) ((unsigned)((i) >> 16))
#define IVM_GET_SBX(i) ((int)IVM_GET_BX(i) - IVM_SBX_BIAS)
#define IVM_GET_SJ(i) ((int)((i) >> 8) - IVM_SJ_BIAS)

#define IVM_ENCODE_ABC(op, a, b, c)                                            \
    ((uint32_t)(op) | ((uint32_t)(a) << 8) | ((uint32_t)(b) << 16) |           \
     ((uint32_t)(c) << 24))
#define IVM_ENCODE_ABX(op, a, bx)                                              \
    ((uint32_t)(op) | ((uint32_t)(a) << 8) | ((uint32_t)(bx) << 16))
#define IVM_ENCODE_ASBX(op, a, sbx) IVM_ENCODE_ABX(op, a, (sbx) + IVM_SBX_BIAS)
#define IVM_ENCODE_SJ(op, sj)                                                  \
    ((uint32_t)(op) | ((uint32_t)((sj) + IVM_SJ_BIAS) << 8))

#endif
