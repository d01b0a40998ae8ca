/* minitorch-c: version numbers (compile time) and their run-time counterparts. */
#ifndef MINITORCH_VERSION_H
#define MINITORCH_VERSION_H

#include "export.h"

#define MT_VERSION_MAJOR 0
#define MT_VERSION_MINOR 2
#define MT_VERSION_PATCH 0

#define MT_VERSION_NUMBER (MT_VERSION_MAJOR * 10000 + MT_VERSION_MINOR * 100 + MT_VERSION_PATCH)
#define MT_STRINGIFY_(x) #x
#define MT_STRINGIFY(x) MT_STRINGIFY_(x)
#define MT_VERSION_STRING \
    MT_STRINGIFY(MT_VERSION_MAJOR) "." MT_STRINGIFY(MT_VERSION_MINOR) "." MT_STRINGIFY(MT_VERSION_PATCH)

#ifdef __cplusplus
extern "C" {
#endif

/** The library's version as MT_VERSION_NUMBER, from the library actually loaded. */
MT_API int mt_version(void);

/** The library's version as "MAJOR.MINOR.PATCH"; a static string. */
MT_API const char *mt_version_string(void);

#ifdef __cplusplus
}
#endif

#endif
