/* The opcode table, generated from the one list in ivm/opcodes.h. */
#include <stdint.h>

#include "ivm/opcodes.h"

const ivm_op_info ivm_op_table[IVM_OP_COUNT] = {
#define IVM_OPCODE_INFO(name, fmt, a, b, c)                                    \
    [IVM_OP_##name] = {#name, IVM_FMT_##fmt, IVM_OPK_##a, IVM_OPK_##b, IVM_OPK_##c},
    IVM_OPCODES(IVM_OPCODE_INFO)
#undef IVM_OPCODE_INFO
};
