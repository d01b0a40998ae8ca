/* minitorch-c: saving and loading tensors in the safetensors format.
 *
 * A safetensors file is an 8-byte little-endian header length N, N bytes of UTF-8 JSON mapping
 * each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (plus an optional
 * "__metadata__" object of string values), then the raw little-endian tensor data; the offsets
 * count from the start of that data section. Files written here load in other safetensors
 * readers (PyTorch, NumPy, ...) and theirs load here, as long as they hold float32 ("F32")
 * tensors: the library has no other element type.
 *
 *     const char *names[] = {"weight", "bias"};
 *     mt_tensor *tensors[] = {w, b};
 *     mt_save_safetensors("model.safetensors", 2, names, tensors, NULL);
 *
 *     mt_safetensors *f = mt_safetensors_open("model.safetensors");
 *     mt_tensor *w2 = mt_safetensors_get(f, "weight");   // a new tensor
 *     mt_safetensors_close(f);
 *
 * Files are treated as hostile: the header is read and checked in full when the file is opened
 * (its length against the file and the MT_SAFETENSORS_MAX_HEADER limit, strict JSON, the
 * dtype, every shape, and the byte ranges against each other and the file), so a malformed or
 * truncated file is an error — MT_ERR_FORMAT with a message saying what is wrong, MT_ERR_IO when
 * reading fails — never a crash or a read out of bounds. As in the format's reference
 * implementation, the tensors' byte ranges must tile the data section exactly: no gaps, no
 * overlaps, no trailing bytes. Beyond it, this reader also refuses duplicate names and duplicate
 * metadata keys (JSON leaves them undefined), names holding a NUL character, and tensors the
 * library cannot represent: a zero-size dim (empty tensors are not supported), more than
 * MT_MAX_DIMS dims, more than 2^60 elements. A 0-dim entry (shape []) loads as shape (1,), the
 * library's scalar. Unknown fields inside a tensor's entry are ignored, as the reference does.
 *
 * Byte order: data is converted to and from little-endian on big-endian hosts, so files are
 * portable.
 */
#ifndef MINITORCH_SAFETENSORS_H
#define MINITORCH_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "export.h"
#include "nn.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The largest JSON header accepted when reading (bytes), the reference implementation's limit:
 *  a larger header length is refused before anything is allocated. */
#define MT_SAFETENSORS_MAX_HEADER 100000000

/* ---- writing ---- */

/** Writes `n` tensors named names[i] to `path` as float32, in the order given, each in logical
 *  (row-major) order whatever its strides (views are written as their values). `metadata_kv` is
 *  NULL or a NULL-terminated list key, value, key, value, ..., NULL stored in "__metadata__".
 *  The file is written to a temporary file beside `path` and renamed over it only when complete,
 *  so a failed save leaves whatever was at `path` untouched.
 *  Fails with MT_ERR_NULL (a NULL argument, name or tensor), MT_ERR_INVALID_ARG (n < 0, a
 *  duplicate name, the name "__metadata__", a duplicate metadata key, a name, key or value that
 *  is not valid UTF-8, a key without a value), MT_ERR_IO (the file cannot be written). */
MT_API mt_status mt_save_safetensors(const char *path, int n, const char *const *names,
                                     mt_tensor *const *tensors, const char *const *metadata_kv);

/* ---- reading ---- */

/** An open safetensors file: its checked header, and the data read on demand. A handle is not
 *  changed by reading, so several threads may read from one handle at once. */
typedef struct mt_safetensors mt_safetensors;

/** Opens `path`, reads and checks its whole header and the file's size (see the top of this
 *  file); tensor data is read later, by mt_safetensors_get / _read_into. NULL on failure:
 *  MT_ERR_NULL, MT_ERR_IO (cannot open or read, not a regular file), MT_ERR_FORMAT (malformed
 *  or unsupported content), MT_ERR_NO_MEMORY. Close it with mt_safetensors_close. */
MT_API mt_safetensors *mt_safetensors_open(const char *path);

/** Like mt_safetensors_open, for a file's bytes already in memory. The bytes are borrowed, not
 *  copied: they must stay unchanged until mt_safetensors_close. */
MT_API mt_safetensors *mt_safetensors_open_memory(const void *bytes, size_t size);

/** Closes the file and frees the handle (NULL is a no-op). */
MT_API void mt_safetensors_close(mt_safetensors *f);

/** Number of tensors in the file, or -1 (MT_ERR_NULL) if `f` is NULL. */
MT_API int mt_safetensors_count(const mt_safetensors *f);

/** The name of tensor i, 0 <= i < count, in the order of their data in the file (which is the
 *  order they were saved in). Valid until the file is closed. NULL with MT_ERR_NULL or
 *  MT_ERR_INDEX. */
MT_API const char *mt_safetensors_name(const mt_safetensors *f, int i);

/** The shape of the tensor named `name`: *ndim and shape[0..*ndim) (shape holds MT_MAX_DIMS
 *  entries). MT_ERR_NULL, or MT_ERR_INVALID_ARG when the file has no such tensor. */
MT_API mt_status mt_safetensors_shape(const mt_safetensors *f, const char *name, int *ndim,
                                      int64_t *shape);

/** A new contiguous tensor (no gradient) holding the tensor named `name`. NULL on failure:
 *  MT_ERR_NULL, MT_ERR_INVALID_ARG (no such tensor), MT_ERR_IO (the data cannot be read, e.g.
 *  the file was truncated after it was opened), MT_ERR_NO_MEMORY. */
MT_API mt_tensor *mt_safetensors_get(const mt_safetensors *f, const char *name);

/** Copies the tensor named `name` into `dst`, whose shape must equal the stored one exactly.
 *  `dst` may be any view (permuted, narrowed) except an expanded one (zero strides); it is
 *  written even if it requires grad (loading parameters), without recording history. On any
 *  failure dst is unchanged: MT_ERR_NULL, MT_ERR_INVALID_ARG (no such tensor, expanded dst),
 *  MT_ERR_SHAPE, MT_ERR_IO, MT_ERR_NO_MEMORY. */
MT_API mt_status mt_safetensors_read_into(const mt_safetensors *f, const char *name,
                                          mt_tensor *dst);

/** mt_safetensors_read_into for `n` tensors at once, all or nothing: every name and shape is
 *  checked and every tensor's data read before the first dst is written, so on failure no dst
 *  has changed. */
MT_API mt_status mt_safetensors_read_many(const mt_safetensors *f, int n,
                                          const char *const *names, mt_tensor *const *dsts);

/** The metadata value stored under `key`, valid until the file is closed; NULL when the file
 *  has no such key (no error recorded) or with MT_ERR_NULL for a NULL argument. */
MT_API const char *mt_safetensors_metadata(const mt_safetensors *f, const char *key);

/** Number of metadata entries, or -1 (MT_ERR_NULL) if `f` is NULL. */
MT_API int mt_safetensors_metadata_count(const mt_safetensors *f);

/** The metadata key number i (keys in byte order), 0 <= i < metadata count; NULL with
 *  MT_ERR_NULL or MT_ERR_INDEX. */
MT_API const char *mt_safetensors_metadata_key(const mt_safetensors *f, int i);

/* ---- parameters (nn.h) ---- */

/** Saves every parameter of `params`, parameter i under names[i], or under "0", "1", ... when
 *  `names` is NULL (names must then match when loading). Errors as mt_save_safetensors. */
MT_API mt_status mt_params_save(const char *path, const mt_params *params,
                                const char *const *names);

/** Loads every parameter of `params` from `path`, parameter i from names[i] (or "0", "1", ...
 *  when `names` is NULL), like PyTorch's strict load_state_dict: the file must hold exactly
 *  these tensors with exactly these shapes (MT_ERR_INVALID_ARG for a missing or an unexpected
 *  tensor, MT_ERR_SHAPE for a shape), plus the errors of mt_safetensors_open. All or nothing:
 *  on failure no parameter has changed. Gradients are left alone. */
MT_API mt_status mt_params_load(const char *path, const mt_params *params,
                                const char *const *names);

#ifdef __cplusplus
}
#endif

#endif
