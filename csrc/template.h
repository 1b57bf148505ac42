/* Precision template: a kernel file defines MLPX_TEMPLATE as its own name
 * and includes this header, which includes the file twice, once with
 * REAL = float and S(name) = name##_f, once with REAL = double and
 * S(name) = name##_d. The file's body sits in the #else branch of its
 * `#ifndef REAL` guard. ISA(name) is S(name) with the ISA level's suffix in
 * a per-level compile of a kernel file (isa.h), S(name) elsewhere: the
 * names of the dispatched kernels and of their calls to one another. */
#define REAL float
#define S(name) name##_f
#define ISA(name) MLPX_ISA_NAME(name##_f)
#include MLPX_TEMPLATE
#undef REAL
#undef S
#undef ISA
#define REAL double
#define S(name) name##_d
#define ISA(name) MLPX_ISA_NAME(name##_d)
#include MLPX_TEMPLATE
#undef REAL
#undef S
#undef ISA
#undef MLPX_TEMPLATE
