/* minitorch-c: symbol visibility. Only functions marked MT_API are exported from the shared library. */
#ifndef MINITORCH_EXPORT_H
#define MINITORCH_EXPORT_H

#if defined(MINITORCH_STATIC_DEFINE)
#define MT_API
#elif defined(MINITORCH_BUILDING) && defined(__GNUC__)
#define MT_API __attribute__((visibility("default")))
#else
#define MT_API
#endif

#endif
