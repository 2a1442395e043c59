// The protoc-c output for proto/ (generated, committed; see scripts/generate-proto.sh)
// and the few helpers Swift needs to use it.
#ifndef CPROTO_H
#define CPROTO_H

#include <protobuf-c/protobuf-c.h>
#include "google/protobuf/any.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "ttrpc/ttrpc.pb-c.h"
#include "connectors/v1/connectors.pb-c.h"

/// protobuf-c's shared empty string, which its macros use for unset string
/// fields; Swift cannot see the extern array directly.
const char *cproto_empty_string(void);

#endif
