// Shared declarations of the kemu addon. Built with NAPI_DISABLE_CPP_EXCEPTIONS: every error
// is thrown as a JS exception and the function returns early, so callers check IsExceptionPending.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

namespace kemu {

// Registration hooks of the translation units (called once from kemu.cc).
void InitSandbox(Napi::Env env, Napi::Object exports);
void InitTunIo(Napi::Env env, Napi::Object exports);

// Argument helpers: on failure they throw a TypeError/RangeError naming fn and return false.
bool ArgInt(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* what, int64_t min,
            int64_t max, int64_t* out);
bool ArgString(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* what, std::string* out);
bool ArgBuffer(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* what, uint8_t** data,
               size_t* len);
bool ArgInt32Array(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* what, int32_t** data,
                   size_t* len);

// An Error with the errno attached as err.errno and err.code (e.g. "EEXIST") for callers that branch on it.
Napi::Error ErrnoError(Napi::Env env, const std::string& message, int err);

}  // namespace kemu
