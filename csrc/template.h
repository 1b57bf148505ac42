/* Precision template: a kernel file defines MLPX_TEMPLATE as its own name
 * and includes this header, which includes the file twice, once with
 * REAL = float and S(name) = name##_f, once with REAL = double and
 * S(name) = name##_d. The file's body sits in the #else branch of its
 * `#ifndef REAL` guard. */
#define REAL float
#define S(name) name##_f
#include MLPX_TEMPLATE
#undef REAL
#undef S
#define REAL double
#define S(name) name##_d
#include MLPX_TEMPLATE
#undef REAL
#undef S
#undef MLPX_TEMPLATE
