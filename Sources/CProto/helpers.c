#include <string.h>
#include "CProto.h"

const char *cproto_empty_string(void) {
    return protobuf_c_empty_string;
}

static int read_varint(const uint8_t **cursor, const uint8_t *end, uint64_t *value) {
    uint64_t result = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (*cursor >= end) return 0;
        uint8_t byte = *(*cursor)++;
        result |= (uint64_t)(byte & 0x7f) << shift;
        if (!(byte & 0x80)) {
            *value = result;
            return 1;
        }
    }
    return 0;
}

static const ProtobufCFieldDescriptor *field_numbered(const ProtobufCMessageDescriptor *descriptor, uint64_t number) {
    for (unsigned i = 0; i < descriptor->n_fields; i++) {
        if (descriptor->fields[i].id == number) return &descriptor->fields[i];
    }
    return NULL;
}

const char *cproto_string_with_nul(const ProtobufCMessageDescriptor *descriptor, const uint8_t *data, size_t length,
                                   unsigned depth) {
    if (depth > 64) return NULL;
    const uint8_t *cursor = data, *end = data + length;
    while (cursor < end) {
        uint64_t key, size;
        if (!read_varint(&cursor, end, &key)) return NULL;
        switch (key & 7) {
        case 0:
            if (!read_varint(&cursor, end, &size)) return NULL;
            break;
        case 1:
            if ((size_t)(end - cursor) < 8) return NULL;
            cursor += 8;
            break;
        case 5:
            if ((size_t)(end - cursor) < 4) return NULL;
            cursor += 4;
            break;
        case 2: {
            if (!read_varint(&cursor, end, &size) || size > (uint64_t)(end - cursor)) return NULL;
            const ProtobufCFieldDescriptor *field = field_numbered(descriptor, key >> 3);
            if (field && field->type == PROTOBUF_C_TYPE_STRING && memchr(cursor, 0, (size_t)size)) {
                return field->name;
            }
            if (field && field->type == PROTOBUF_C_TYPE_MESSAGE) {
                const char *inner = cproto_string_with_nul(field->descriptor, cursor, (size_t)size, depth + 1);
                if (inner) return inner;
            }
            cursor += size;
            break;
        }
        default:
            return NULL;
        }
    }
    return NULL;
}
