/* Saving and loading a parameter list (nn.h) as a safetensors file. */
#include <stdio.h>
#include <string.h>

#include "nn/safetensors_internal.h"
#include "runtime/alloc.h"
#include "runtime/error.h"

/* Short decimal names "0", "1", ... for parameters saved without names. */
typedef char index_name[12];

/* names, or (when NULL) the decimal names written into *storage (mti_malloc'd). */
static const char *const *names_or_indices(const char *fn, int n, const char *const *names,
                                           index_name **storage, const char ***table)
{
    *storage = NULL;
    *table = NULL;
    if (names) return names;
    *storage = mti_malloc(sizeof **storage * (size_t)(n ? n : 1));
    *table = mti_malloc(sizeof **table * (size_t)(n ? n : 1));
    if (!*storage || !*table) {
        mti_fail(MT_ERR_NO_MEMORY, fn, "cannot allocate the parameter names");
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        snprintf((*storage)[i], sizeof(index_name), "%d", i);
        (*table)[i] = (*storage)[i];
    }
    return *table;
}

mt_status mt_params_save(const char *path, const mt_params *params, const char *const *names)
{
    static const char fn[] = "mt_params_save";
    if (!path) return mti_fail_null(fn, "path");
    if (!params) return mti_fail_null(fn, "params");
    index_name *storage;
    const char **table;
    const char *const *used = names_or_indices(fn, params->count, names, &storage, &table);
    mt_status status = used ? mt_save_safetensors(path, params->count, used, params->items, NULL)
                            : MT_ERR_NO_MEMORY;
    if (status != MT_OK) mti_error_context(fn);
    mti_free(storage);
    mti_free(table);
    return status;
}

/* MT_ERR_INVALID_ARG if the file holds a tensor that is not one of the n names. */
static mt_status check_no_unexpected(const char *fn, const mt_safetensors *f, int n,
                                     const char *const *names)
{
    int count = mt_safetensors_count(f);
    for (int i = 0; i < count; i++) {
        const char *name = mt_safetensors_name(f, i);
        bool expected = false;
        for (int k = 0; k < n && !expected; k++) expected = names[k] && strcmp(names[k], name) == 0;
        if (!expected)
            return mti_fail(MT_ERR_INVALID_ARG, fn, "the file holds tensor \"%.100s\", which is "
                            "not one of the parameters' names", name);
    }
    return MT_OK;
}

mt_status mt_params_load(const char *path, const mt_params *params, const char *const *names)
{
    static const char fn[] = "mt_params_load";
    if (!path) return mti_fail_null(fn, "path");
    if (!params) return mti_fail_null(fn, "params");
    index_name *storage;
    const char **table;
    const char *const *used = names_or_indices(fn, params->count, names, &storage, &table);
    mt_safetensors *f = used ? mt_safetensors_open(path) : NULL;
    mt_status status = f ? check_no_unexpected(fn, f, params->count, used) : mt_last_status();
    if (status == MT_OK) status = mt_safetensors_read_many(f, params->count, used, params->items);
    if (status != MT_OK) mti_error_context(fn);
    mt_safetensors_close(f);
    mti_free(storage);
    mti_free(table);
    return status;
}
