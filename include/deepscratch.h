/*
 * deepscratch.h — the C interface of libdeepscratch.so
 *
 * Load a DeepScratch model file (.dsm) and classify images of digits, from
 * C, C++, or any language that can call C (Python ctypes, Go cgo, ...).
 * This header is the contract: every exported function is declared here,
 * with who owns each buffer and which calls may run on several threads.
 *
 *     ds_model *m;
 *     if (ds_model_load("model.dsm", &m) != DS_OK) {
 *         fprintf(stderr, "%s\n", ds_last_error());
 *         return 1;
 *     }
 *     int digit;
 *     float p[10];
 *     if (ds_classify_png_file(m, "digit.png", p, 10, &digit) == DS_OK)
 *         printf("%d (%.1f%%)\n", digit, 100 * p[digit]);
 *     ds_model_free(m);
 *
 * Conventions
 * - Every public name starts with ds_ (types, functions) or DS_ (macros,
 *   constants).
 * - Every function returns a ds_status (except the version and error-text
 *   getters). On failure, ds_last_error() describes the problem; output
 *   arguments are then left unchanged.
 * - Sizes are counts of elements, not bytes, unless they say bytes.
 * - Threads: a loaded model is immutable. Any number of threads may call the
 *   ds_model_* getters and ds_classify* functions with the same model at the
 *   same time. Only ds_model_free must not run while other threads use that
 *   model (the library keeps a model alive for a call that already started,
 *   but a call that starts after the free fails with DS_ERR_INVALID_ARGUMENT).
 *   The library's own worker threads: see "Threads" below.
 * - Nothing the library returns needs to be freed by the caller, except a
 *   model (ds_model_free). The library never keeps a pointer the caller passed.
 * - Output pointers: each function says which may be NULL; any other NULL
 *   pointer argument is DS_ERR_INVALID_ARGUMENT, never a crash.
 * - Hosts: nothing a caller passes (a damaged or hostile model file, any
 *   PNG bytes, any float values) makes the library abort, trap or hang the
 *   process; every problem is a status. A child process may use models
 *   loaded before fork(). dlclose() never unmaps the library (it pins
 *   itself when loaded, so threads that used it can still exit safely);
 *   dlopen after dlclose finds it still loaded.
 */
#ifndef DEEPSCRATCH_H
#define DEEPSCRATCH_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Version                                                            */
/* ------------------------------------------------------------------ */

/* The version of this header. A program compiled against major version M
 * must run with a library whose major version is M: check it once at start
 * with DS_CHECK_VERSION(). Minor versions only add functions. */
#define DS_VERSION_MAJOR 1
#define DS_VERSION_MINOR 2
#define DS_VERSION_PATCH 0
#define DS_VERSION_STRING "1.2.0"
/* 1.1 added ds_set_threads, ds_get_threads and ds_set_spin.
 * 1.2 added ds_version_minor, ds_model_input_shape, pixel buffers
 * (ds_classify_pixels, ds_preprocess_*), ds_classify_png_files and load
 * options
 * (ds_load_options_default, ds_model_load_with_options,
 * ds_model_load_memory_with_options). */

/* The library's version, "MAJOR.MINOR.PATCH". Static: never free it. */
const char *ds_version(void);

/* The library's major version. */
int ds_version_major(void);

/* The library's minor version (since 1.2; a 1.0 or 1.1 library lacks the
 * symbol: look it up with dlsym to support those). */
int ds_version_minor(void);

/* Status of a call. New codes may be added in minor versions: treat unknown
 * nonzero codes as errors. */
typedef enum ds_status {
    DS_OK = 0,
    /* A NULL pointer, a size that does not match the model, an index out of
     * range, or a handle that is not a loaded model (or was freed). */
    DS_ERR_INVALID_ARGUMENT = 1,
    /* A file could not be opened or read. */
    DS_ERR_IO = 2,
    /* Not a valid DeepScratch model file (damaged, truncated, newer format). */
    DS_ERR_BAD_MODEL = 3,
    /* Not a usable image: not a PNG, truncated, too large, or no digit in it. */
    DS_ERR_BAD_IMAGE = 4,
    /* The library's major version differs from the header's. */
    DS_ERR_VERSION_MISMATCH = 5,
    /* A failure inside the library that no argument explains. */
    DS_ERR_INTERNAL = 6
} ds_status;

/* DS_OK if the library's major version is `header_major`, else
 * DS_ERR_VERSION_MISMATCH (and ds_last_error() names both versions). */
ds_status ds_check_version(int header_major);
#define DS_CHECK_VERSION() ds_check_version(DS_VERSION_MAJOR)

/* The message of the last call that failed on the calling thread ("" if
 * none has). Owned by the library, per thread: valid until the next failing
 * call on the same thread; copy it to keep it. */
const char *ds_last_error(void);

/* A constant name for a status ("DS_OK", "DS_ERR_IO", ...). Static. */
const char *ds_status_name(ds_status status);

/* ------------------------------------------------------------------ */
/* Models                                                             */
/* ------------------------------------------------------------------ */

/* A loaded model. Opaque: use it only through these functions. */
typedef struct ds_model ds_model;

/* Loads and validates the model file at `path` (UTF-8). On success,
 * *out_model receives a model the caller owns and frees with ds_model_free.
 * DS_ERR_IO if the file cannot be read, DS_ERR_BAD_MODEL if it is not a
 * valid model. The whole structure is checked against the file before
 * anything is allocated: a file beyond the format's limits (more than 2^28
 * input values, a tensor of more than 2^31 values, weights the file does not
 * hold, more than 2^28 floats of working memory per image;
 * docs/model-format.md, "Limits") is DS_ERR_BAD_MODEL too, whatever its
 * checksum says. */
ds_status ds_model_load(const char *path, ds_model **out_model);

/* The same from `size` bytes at `data`, which the library only reads during
 * the call (the caller keeps ownership; the model holds its own copy of
 * what it needs). */
ds_status ds_model_load_memory(const void *data, size_t size, ds_model **out_model);

/* Frees a model. NULL is accepted (DS_OK). Not while other threads use it. */
ds_status ds_model_free(ds_model *model);

/* The number of input values of one image: 784 for 28x28. */
ds_status ds_model_input_size(const ds_model *model, size_t *out_size);

/* The number of classes (10 for digits). */
ds_status ds_model_class_count(const ds_model *model, size_t *out_count);

/* String getters: copy the text into `buffer` (at most `capacity` bytes,
 * always NUL-terminated when capacity > 0, truncated if it does not fit) and
 * store its full length in bytes, without the NUL, in *out_length (may be
 * NULL). buffer may be NULL with capacity 0 to ask for the length only. */

/* The label of class `index` (UTF-8), e.g. "7". */
ds_status ds_model_label(const ds_model *model, size_t index, char *buffer, size_t capacity, size_t *out_length);

/* The model's metadata as a JSON object (UTF-8): layers, input shape,
 * classes, standardization, and training information such as the command
 * line and the test accuracy. */
ds_status ds_model_metadata(const ds_model *model, char *buffer, size_t capacity, size_t *out_length);

/* ------------------------------------------------------------------ */
/* Classifying                                                        */
/* ------------------------------------------------------------------ */

/* Images given as floats are in the network's form: input_size values,
 * row-major, in [0, 1], 0 for background and 1 for ink (a white digit on
 * black, as MNIST stores them). The model's standardization is applied by
 * the library. A NaN or infinite value is DS_ERR_INVALID_ARGUMENT, naming
 * the pixel (and the image); finite values outside [0, 1] are used as they
 * are. Pictures (PNG) go through the library's preprocessing first: any
 * color type, size or polarity.
 *
 * In every classify function, `probabilities` may be NULL; otherwise it
 * receives class_count values (per image) that sum to 1, and
 * probability_count must be at least that many. The predicted class index
 * goes to *out_class (or out_classes[i]). Should the network's output not be
 * finite (pixel values far outside [0, 1], or weights so large they
 * overflow), the call fails with DS_ERR_INVALID_ARGUMENT naming the image.
 *
 * Sizes: a model has at most 2^28 inputs and 2^20 classes (the model-file
 * limits, docs/model-format.md); a batch holds at most 2^31 - 1 images.
 * Larger counts are DS_ERR_INVALID_ARGUMENT. */

/* One image of `pixel_count` (= input size) floats. out_class must not be
 * NULL. */
ds_status ds_classify(const ds_model *model, const float *pixels, size_t pixel_count,
                      float *probabilities, size_t probability_count, int *out_class);

/* `image_count` images of `pixels_per_image` floats each, one after the
 * other. probabilities (if not NULL) receives image_count x class_count
 * values, image after image (probability_count counts them all);
 * out_classes receives image_count indices and may be NULL (not both NULL).
 * image_count 0 is DS_OK and touches nothing (pixels may then be NULL).
 * Runs on the library's threads (see "Threads"). The one exception to
 * "outputs unchanged on failure": when the network's output is not finite
 * for some image, the other images' probabilities and classes may already
 * have been written. */
ds_status ds_classify_batch(const ds_model *model, const float *pixels, size_t image_count, size_t pixels_per_image,
                            float *probabilities, size_t probability_count, int *out_classes);

/* A PNG file (UTF-8 path). out_class must not be NULL. */
ds_status ds_classify_png_file(const ds_model *model, const char *path,
                               float *probabilities, size_t probability_count, int *out_class);

/* PNG bytes in memory (only read during the call). out_class must not be
 * NULL. */
ds_status ds_classify_png_memory(const ds_model *model, const void *data, size_t size,
                                 float *probabilities, size_t probability_count, int *out_class);

/* ------------------------------------------------------------------ */
/* Threads (since 1.1)                                                 */
/* ------------------------------------------------------------------ */

/* ds_classify_batch, and the layers of convolutional models, split their
 * work across worker threads of the library's own: `threads` in all, the
 * calling thread included. The setting is process-wide and takes effect for
 * the next call. By default there is one thread per CPU online.
 *
 * - 1: only the calling thread; the library starts no thread at all.
 * - 0: one per CPU online (the default); at most 256.
 * - Any thread may call it at any time, also while other threads classify:
 *   a call already running finishes on the old threads, which then end.
 * - Idle workers sleep (they take no CPU time) after spinning for a short
 *   while (ds_set_spin) for the next piece of work.
 * - In a child process after fork(), the library starts its threads anew
 *   at the next call, with the same setting.
 * - OpenBLAS: while the library uses more than one thread it calls OpenBLAS
 *   from each of them, so it sets OpenBLAS's process-wide thread count to 1
 *   (openblas_set_num_threads(1)) when it starts them. With 1 thread it
 *   leaves OpenBLAS's setting alone, and restores the count it found if it
 *   had set it to 1 before. A host that uses OpenBLAS itself and wants its
 *   own setting untouched calls ds_set_threads(1) before anything else.
 * - OpenBLAS's kernels: an OpenBLAS that does not know the CPU (Debian 12's
 *   0.3.21 on Intel CPUs newer than itself) runs its oldest x86-64 kernels,
 *   several times slower than the CPU allows. Before its first matrix
 *   product (at the first ds_model_load*), the library then makes OpenBLAS
 *   run the kernels the CPU's feature flags call for ("SkylakeX" with
 *   AVX-512, "Haswell" or "Zen" with AVX2), once per process, through
 *   OpenBLAS's own gotoblas_dynamic_init, with OPENBLAS_CORETYPE set for
 *   the duration of that call. That moment must not overlap an OpenBLAS
 *   call or an environment change of the host's own. Nothing is changed
 *   when the host set OPENBLAS_CORETYPE, when DEEPSCRATCH_BLAS_CORE=keep is
 *   set, or when OpenBLAS's own choice is as wide as the CPU. */
ds_status ds_set_threads(size_t threads);

/* The number of threads the library uses, the calling thread included. */
ds_status ds_get_threads(size_t *out_threads);

/* How long an idle worker thread spins waiting for the next piece of work
 * before it sleeps: 0 to 1000000 microseconds (default 50). 0 never spins;
 * more saves the wake-up latency between pieces of work that follow each
 * other quickly, at the price of up to that much CPU time per worker after
 * each call. Process-wide; takes effect at once. */
ds_status ds_set_spin(unsigned int spin_microseconds);

/* ------------------------------------------------------------------ */
/* Input shape, pixel buffers, preprocessing (since 1.2)              */
/* ------------------------------------------------------------------ */

/* The model's input image: height, width and channels (MNIST models: 28,
 * 28, 1); their product is ds_model_input_size. Any of the three pointers
 * may be NULL (that value is then not written). */
ds_status ds_model_input_shape(const ds_model *model, size_t *out_height, size_t *out_width,
                               size_t *out_channels);

/* How the bytes of a pixel buffer are laid out, pixel by pixel in a row.
 * Values are stable: new formats get new numbers. */
typedef enum ds_pixel_format {
    DS_PIXELS_GRAY8 = 1,   /* 1 byte: gray, 0 black ... 255 white */
    DS_PIXELS_RGB8 = 2,    /* 3 bytes: red, green, blue */
    DS_PIXELS_RGBA8 = 3,   /* 4 bytes: red, green, blue, alpha (not premultiplied; 0 transparent) */
    DS_PIXELS_GRAY16 = 4   /* 2 bytes: gray 0 ... 65535, in the host's byte order */
} ds_pixel_format;

/* A picture in memory (a camera frame, a canvas, a scanned form): `width` x
 * `height` pixels in `format`, row after row, each row starting
 * `stride_bytes` after the one before (at least width times the pixel's
 * bytes; rows need no alignment). It is classified exactly as a PNG of the
 * same pixels would be (ds_classify_png_*): the same conversion to gray
 * (RGB weighted 77:150:29 of 256; transparent pixels are background), the
 * same preprocessing (polarity either way, background flattening, crop to
 * the ink, scaling, centering by mass) and the same limits (sides up to
 * 16384 pixels, at most 2^26 pixels): DS_ERR_BAD_IMAGE for a picture with
 * no digit in it or beyond the limits, DS_ERR_INVALID_ARGUMENT for a NULL
 * pixels pointer, a zero side, a stride shorter than a row or an unknown
 * format. The buffer is only read, during the call. out_class must not be
 * NULL; probabilities may be NULL. Thread-safe as ds_classify. */
ds_status ds_classify_pixels(const ds_model *model, const void *pixels, size_t width, size_t height,
                             size_t stride_bytes, ds_pixel_format format, float *probabilities,
                             size_t probability_count, int *out_class);

/* `count` PNG files (UTF-8 paths), classified across the library's threads
 * (see "Threads"), each as ds_classify_png_file would. out_classes (not
 * NULL) receives count classes, -1 for a file that failed; out_statuses
 * (may be NULL) one status per file; probabilities (may be NULL) count x
 * class_count values, file after file (a failed file's left unchanged).
 * Returns DS_OK when every file was classified, else the first failed
 * file's status, with ds_last_error() naming it and how many failed; the
 * other files are classified all the same. count 0 is DS_OK and touches
 * nothing. Any NULL path is DS_ERR_INVALID_ARGUMENT before any work. */
ds_status ds_classify_png_files(const ds_model *model, const char *const *paths, size_t count,
                                float *probabilities, size_t probability_count, int *out_classes,
                                ds_status *out_statuses);

/* What classification sees: the model-input image a PNG file, PNG bytes or
 * a pixel buffer becomes, as ds_model_input_size floats in [0, 1] (0
 * background, 1 ink, row-major, the model's polarity applied), written to
 * `out_input` (input_count must be at least the input size). Passing them
 * to ds_classify gives the same answer as ds_classify_png_* or
 * ds_classify_pixels on the original. The same arguments, checks and
 * errors as those functions; thread-safe as they are. */
ds_status ds_preprocess_png_file(const ds_model *model, const char *path, float *out_input, size_t input_count);
ds_status ds_preprocess_png_memory(const ds_model *model, const void *data, size_t size, float *out_input,
                                   size_t input_count);
ds_status ds_preprocess_pixels(const ds_model *model, const void *pixels, size_t width, size_t height,
                               size_t stride_bytes, ds_pixel_format format, float *out_input,
                               size_t input_count);

/* ------------------------------------------------------------------ */
/* Load options (since 1.2)                                           */
/* ------------------------------------------------------------------ */

/* Options of ds_model_load_with_options. Versioned by its size: fill it with
 * ds_load_options_default (which sets struct_size to the size this header
 * declares), then change the fields you need. Later minor versions only
 * append fields; a library reads the fields the caller's struct_size
 * covers (the others keep their defaults) and refuses a struct that sets a
 * field it does not know to anything but zero (DS_ERR_INVALID_ARGUMENT). */
typedef struct ds_load_options {
    /* sizeof(ds_load_options) as the caller was compiled. */
    size_t struct_size;
    /* If not 0: as ds_set_threads(threads), done before the model loads
     * (process-wide). Default 0: the library's setting is left alone. */
    size_t threads;
    /* If not 0: refuse a model of more bytes than this before reading it
     * (a file: DS_ERR_IO, as for a file past the format's 2 GiB; a buffer:
     * DS_ERR_BAD_MODEL); for hosts that take models from untrusted places
     * and want a tighter bound. Default 0: the format's limit. */
    size_t max_model_bytes;
} ds_load_options;

/* Fills *options with the defaults (struct_size = sizeof(ds_load_options)). */
ds_status ds_load_options_default(ds_load_options *options);

/* ds_model_load and ds_model_load_memory with options; options may be NULL
 * (the defaults). */
ds_status ds_model_load_with_options(const char *path, const ds_load_options *options, ds_model **out_model);
ds_status ds_model_load_memory_with_options(const void *data, size_t size, const ds_load_options *options,
                                            ds_model **out_model);

#ifdef __cplusplus
}
#endif

#endif /* DEEPSCRATCH_H */
