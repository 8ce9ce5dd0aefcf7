/* host/verify/cases_conv.c: the convolution cases of `clmp verify`. */
#include "verify_impl.h"

const clmp__verify_case clmp__verify_cases_conv[] = {{NULL, NULL}};
