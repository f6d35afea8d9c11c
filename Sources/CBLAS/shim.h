// CBLAS from OpenBLAS (Debian: libopenblas-dev). pkg-config "openblas" puts
// the openblas-pthread include folder on the path, so this is OpenBLAS's cblas.h,
// which also declares openblas_set_num_threads().
#include <cblas.h>
