// Entry point of the kemu addon plus the argument helpers shared by the other files.
// The contract it implements is src/native/index.ts (NativeAddon).
#include "kemu.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <string>

namespace kemu {

namespace {

Napi::Value ArgAt(const Napi::CallbackInfo& info, size_t i) {
  return i < info.Length() ? info[i] : info.Env().Undefined();
}

void ThrowType(Napi::Env env, const char* fn, const char* what, const char* expected) {
  Napi::TypeError::New(env, std::string(fn) + ": " + what + " must be " + expected).ThrowAsJavaScriptException();
}

// strerrorname_np needs glibc 2.32; a short table covers what the callers branch on.
const char* ErrnoName(int err) {
  switch (err) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EIO: return "EIO";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case ENODEV: return "ENODEV";
    case ENOTDIR: return "ENOTDIR";
    case EINVAL: return "EINVAL";
    case ENOSPC: return "ENOSPC";
    case ERANGE: return "ERANGE";
    case ENOBUFS: return "ENOBUFS";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case ENETUNREACH: return "ENETUNREACH";
    case EBADFD: return "EBADFD";
    default: return nullptr;
  }
}

}  // namespace

// The helpers below use one raw napi call each (they run once per writeBatch, i.e. per batch):
// the getters report a wrong type as a status without throwing, so no separate type check is needed.

bool ArgInt(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* what, int64_t min,
            int64_t max, int64_t* out) {
  // Read as double so uint32 values above 2^31 survive (napi int32 getters would wrap them).
  double d;
  if (napi_get_value_double(info.Env(), ArgAt(info, i), &d) != napi_ok) {
    ThrowType(info.Env(), fn, what, "a number");
    return false;
  }
  if (!(d >= static_cast<double>(min) && d <= static_cast<double>(max)) || d != std::trunc(d)) {
    Napi::RangeError::New(info.Env(), std::string(fn) + ": " + what + " must be an integer in [" +
                                          std::to_string(min) + ", " + std::to_string(max) + "]")
        .ThrowAsJavaScriptException();
    return false;
  }
  *out = static_cast<int64_t>(d);
  return true;
}

bool ArgString(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* what, std::string* out) {
  Napi::Value v = ArgAt(info, i);
  if (!v.IsString()) {
    ThrowType(info.Env(), fn, what, "a string");
    return false;
  }
  *out = v.As<Napi::String>().Utf8Value();
  return true;
}

bool ArgBuffer(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* what, uint8_t** data,
               size_t* len) {
  void* p = nullptr;
  if (napi_get_buffer_info(info.Env(), ArgAt(info, i), &p, len) != napi_ok) {
    ThrowType(info.Env(), fn, what, "a Buffer");
    return false;
  }
  *data = static_cast<uint8_t*>(p);
  return true;
}

bool ArgInt32Array(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* what, int32_t** data,
                   size_t* len) {
  napi_typedarray_type type;
  void* p = nullptr;
  if (napi_get_typedarray_info(info.Env(), ArgAt(info, i), &type, len, &p, nullptr, nullptr) != napi_ok ||
      type != napi_int32_array) {
    ThrowType(info.Env(), fn, what, "an Int32Array");
    return false;
  }
  *data = static_cast<int32_t*>(p);
  return true;
}

Napi::Error ErrnoError(Napi::Env env, const std::string& message, int err) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("errno", Napi::Number::New(env, err));
  if (const char* name = ErrnoName(err)) e.Set("code", Napi::String::New(env, name));
  return e;
}

}  // namespace kemu

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  kemu::InitSandbox(env, exports);
  kemu::InitTunIo(env, exports);
  return exports;
}

NODE_API_MODULE(kemu, Init)
