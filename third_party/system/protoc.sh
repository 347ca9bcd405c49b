#!/bin/sh
# The system protoc must match the system libprotobuf (3.21.12); never a pip or conda protoc.
exec /usr/bin/protoc "$@"
