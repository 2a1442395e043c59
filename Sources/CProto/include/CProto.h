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

/// The name of the first string field in `data` (a message of type
/// `descriptor`, nested messages included) that holds a NUL byte, or NULL.
/// protobuf-c keeps strings NUL-terminated, so such a value would otherwise be
/// cut short silently.
const char *cproto_string_with_nul(const ProtobufCMessageDescriptor *descriptor, const uint8_t *data, size_t length,
                                   unsigned depth);

#endif
