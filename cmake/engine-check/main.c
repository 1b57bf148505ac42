/* Links the engine and includes Python.h, as the extension will. */
#include <Python.h>
#include <stdio.h>
#include "mlpx.h"

int main(void)
{
    printf("%s %d\n", mlpx_kernel_path(), PY_VERSION_HEX != 0);
    return mlpx_has_blas();
}
