// libpng's simplified API. Its function-like macros (PNG_IMAGE_SIZE,
// PNG_IMAGE_FAILED, ...) do not import into Swift; the static inline
// functions below stand in for the ones the engine uses.
#include <png.h>

static inline int dsi_png_image_failed(const png_image *image) {
    return PNG_IMAGE_FAILED(*image);
}
