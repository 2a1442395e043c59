#include "CProto.h"

const char *cproto_empty_string(void) {
    return protobuf_c_empty_string;
}
