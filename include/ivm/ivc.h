/* The .ivc bytecode file format, byte by byte.
 *
 * All integers are little-endian. u8/u16/u32/u64 are unsigned, i64 is two's
 * complement. A "str" is a u32 byte length followed by that many bytes of
 * UTF-8 (no terminator).
 *
 *   offset  size  field
 *   0       4     magic: 7F 49 56 43 ("\x7fIVC")
 *   4       2     format major version (u16); a file whose major version is
 *                 newer than this ivm's is refused by name
 *   6       2     format minor version (u16); newer minors of the same major
 *                 are refused too (this ivm knows only 1.0)
 *   8       4     flags (u32), must be 0
 *   12      4     total file length in bytes (u32), must match
 *   16      str   source file name (may be empty)
 *   ..      4     number of prototypes (u32), at least 1
 *   ..      4     index of the entry prototype (u32); it takes no
 *                 parameters, is not variadic and captures nothing
 *   ..      ...   the prototypes, in order (below)
 *   len-4   4     CRC-32 (IEEE 802.3, as zlib's crc32) of bytes 0..len-5
 *
 * A prototype:
 *   u8   flags: bit 0 set = has a name; bit 1 set = variadic; others 0
 *   str  name (only when flags bit 0 is set)
 *   u8   nparams   fixed parameters
 *   u8   nregs     registers; nregs >= nparams + (variadic ? 1 : 0), >= 1
 *   u8   ncaps     captured values
 *   ncaps times:
 *     u8 kind      0 = the creating function's register, 1 = its capture
 *     u8 index     checked against the creating function at each CLOSURE
 *   u32  nconsts, then nconsts constants (below)
 *   u32  ncode, then ncode instruction words (u32 each; see opcodes.h)
 *   u32  nlines, then nlines pairs (u32 pc, u32 line): the source line of
 *        the instructions from pc up to the next pair's pc; pcs strictly
 *        increasing and below ncode
 *
 * A constant is a u8 tag and its payload:
 *   0 nil   1 true   2 false
 *   3 integer    i64
 *   4 float      u64 (IEEE 754 bits)
 *   5 string     str
 *   6 symbol     str
 *   7 keyword    str (without the colon)
 *   8 prototype  u32 index of a prototype EARLIER in the file (so the
 *                prototypes form no cycle and load in one pass)
 *   9 bytes      u32 length + that many bytes
 *   10 char      u32 Unicode code point
 *   11 list      u32 count + that many constants (nested at most 64 deep)
 *   12 regex     str: a Java pattern (values/regex.h), compiled on load;
 *                a pattern that does not compile is refused. Each regex
 *                constant loads as a regex of its own (equal to no other).
 *                Added without a version change (no release had 1.0
 *                without it): an ivm from before it refuses the tag.
 *
 * Every instruction is checked against its operand kinds before anything
 * runs; the code must not fall off its end (the last instruction is a RET,
 * TAILCALL or JMP), and a test instruction is followed by a JMP.
 */
#ifndef IVM_IVC_H
#define IVM_IVC_H

#define IVC_MAGIC "\x7fIVC"
#define IVC_MAGIC_LEN 4
#define IVC_VERSION_MAJOR 1
#define IVC_VERSION_MINOR 0
#define IVC_MAX_NESTING 64

enum {
    IVC_PROTO_NAMED = 1,
    IVC_PROTO_VARIADIC = 2,
};

typedef enum ivc_const_tag {
    IVC_NIL,
    IVC_TRUE,
    IVC_FALSE,
    IVC_INT,
    IVC_FLOAT,
    IVC_STRING,
    IVC_SYMBOL,
    IVC_KEYWORD,
    IVC_PROTO,
    IVC_BYTES,
    IVC_CHAR,
    IVC_LIST,
    IVC_REGEX,
    IVC_TAG_COUNT
} ivc_const_tag;

#endif
