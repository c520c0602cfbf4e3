/* agent-broker plugin ABI: error codes shared by the host and plugins. */
#ifndef AGENT_BROKER_ERRORS_H
#define AGENT_BROKER_ERRORS_H

#include <errno.h>

/* Every ABI function returns 0 or one of these negative codes. Values below -4096
 * are agent-broker's own; values from -1 to -4095 are negated errno values. */
enum ab_err {
    AB_OK = 0,
    AB_ENOMEM = -ENOMEM,
    AB_EINVAL = -EINVAL,
    AB_ENOENT = -ENOENT,
    AB_EEXIST = -EEXIST,
    AB_EAGAIN = -EAGAIN,
    AB_EIO = -EIO,
    AB_ETIMEDOUT = -ETIMEDOUT,
    AB_ECANCELED = -ECANCELED,
    AB_ENOTSUP = -ENOTSUP,
    AB_EABI = -5001,      /* plugin built for an incompatible ABI */
    AB_ENOTPLUGIN = -5002, /* file is not an agent-broker plugin */
    AB_EMISSINGOP = -5003, /* a mandatory op is NULL */
    AB_EDUP = -5004,       /* a plugin with this name is already loaded */
    AB_ECONFIG = -5005,    /* invalid configuration */
    AB_EPROTO = -5006,     /* peer violated its protocol */
    AB_ERATELIMIT = -5007, /* rate limited; retry later */
    AB_EAUTH = -5008,      /* credentials rejected */
    AB_ECLOSED = -5009,    /* the connection or session is closed */
    AB_EFULL = -5010,      /* a queue or pool is full */
};

/* Return a static, human-readable description of an ab_err (or negated errno). */
static inline const char *
ab_strerror(int err)
{
    switch (err) {
    case AB_OK: return "success";
    case AB_ENOMEM: return "out of memory";
    case AB_EINVAL: return "invalid argument";
    case AB_ENOENT: return "not found";
    case AB_EEXIST: return "already exists";
    case AB_EAGAIN: return "try again";
    case AB_EIO: return "input/output error";
    case AB_ETIMEDOUT: return "timed out";
    case AB_ECANCELED: return "cancelled";
    case AB_ENOTSUP: return "not supported";
    case AB_EABI: return "incompatible plugin ABI";
    case AB_ENOTPLUGIN: return "not an agent-broker plugin";
    case AB_EMISSINGOP: return "plugin lacks a mandatory operation";
    case AB_EDUP: return "duplicate plugin name";
    case AB_ECONFIG: return "invalid configuration";
    case AB_EPROTO: return "protocol error";
    case AB_ERATELIMIT: return "rate limited";
    case AB_EAUTH: return "authentication failed";
    case AB_ECLOSED: return "closed";
    case AB_EFULL: return "full";
    default: return err < 0 && err > -4096 ? "system error" : "unknown error";
    }
}

#endif
