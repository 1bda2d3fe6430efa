// Umbrella header for the protobuf-c messages generated from proto/ (scripts/generate-proto.sh).
#include <protobuf-c/protobuf-c.h>

#include "nucleus/engine/v1/engine.pb-c.h"
