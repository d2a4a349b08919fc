// The data-plane I/O: a uv_poll batch reader (TunPoller) and synchronous batch writes.
//
// A TUN is a character device: no recvmmsg/sendmmsg, one packet per read()/write(). What we can
// save is everything around the syscalls, so readiness comes from the node loop itself (no
// threadpool), a batch is drained into one JS-owned arena, JS is called once per batch, and
// nothing here allocates per packet or per batch.
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include <climits>
#include <cstdint>
#include <string>
#include <unordered_map>

#include "kemu.h"

namespace kemu {
namespace {

constexpr int64_t kMaxFd = INT32_MAX;
constexpr int64_t kMaxSafeInt = 9007199254740991;  // 2^53 - 1

class TunPoller : public Napi::ObjectWrap<TunPoller> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "TunPoller",
                       {InstanceMethod<&TunPoller::Add>("add"), InstanceMethod<&TunPoller::Remove>("remove"),
                        InstanceMethod<&TunPoller::Close>("close")});
  }

  explicit TunPoller(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<TunPoller>(info), ctx_(info.Env(), "kemu.TunPoller", info.This().As<Napi::Object>()) {
    Napi::Env env = info.Env();
    const char* fn = "TunPoller";
    size_t arenaLen, offsLen, lensLen;
    int64_t slotBytes, maxBatch;
    if (!ArgBuffer(info, 0, fn, "arena", &arena_, &arenaLen) ||
        !ArgInt32Array(info, 1, fn, "offs", &offs_, &offsLen) ||
        !ArgInt32Array(info, 2, fn, "lens", &lens_, &lensLen) ||
        !ArgInt(info, 3, fn, "slotBytes", 1, INT32_MAX, &slotBytes) ||
        !ArgInt(info, 4, fn, "maxBatch", 1, INT32_MAX, &maxBatch)) {
      return;
    }
    if (info.Length() < 6 || !info[5].IsFunction()) {
      Napi::TypeError::New(env, "TunPoller: onBatch must be a function").ThrowAsJavaScriptException();
      return;
    }
    // Offsets are reported through an Int32Array, so the whole arena span must fit in int32.
    if (static_cast<uint64_t>(maxBatch) > offsLen || static_cast<uint64_t>(maxBatch) > lensLen ||
        static_cast<uint64_t>(slotBytes) * static_cast<uint64_t>(maxBatch) > arenaLen ||
        static_cast<uint64_t>(slotBytes) * static_cast<uint64_t>(maxBatch) > static_cast<uint64_t>(INT32_MAX)) {
      Napi::RangeError::New(env, "TunPoller: need maxBatch <= offs.length, lens.length and slotBytes*maxBatch <= " +
                                     std::string("min(arena.length, 2^31-1)"))
          .ThrowAsJavaScriptException();
      return;
    }
    slotBytes_ = static_cast<size_t>(slotBytes);
    maxBatch_ = static_cast<size_t>(maxBatch);
    // The raw pointers above stay valid because these references keep the (non-pooled,
    // never-moving) backing stores alive for the poller's lifetime.
    arenaRef_ = Napi::Persistent(info[0].As<Napi::Object>());
    offsRef_ = Napi::Persistent(info[1].As<Napi::Object>());
    lensRef_ = Napi::Persistent(info[2].As<Napi::Object>());
    onBatch_ = Napi::Persistent(info[5].As<Napi::Function>());
    // The env's own loop rather than uv_default_loop(), so the addon also works in a worker.
    if (napi_get_uv_event_loop(env, &loop_) != napi_ok || loop_ == nullptr) {
      Napi::Error::New(env, "TunPoller: napi_get_uv_event_loop failed").ThrowAsJavaScriptException();
      return;
    }
    ready_ = true;
  }

  ~TunPoller() override {
    // Normally empty (active watches keep the wrapper referenced); at env teardown, close what is left.
    for (auto& kv : watches_) StopHandle(kv.second);
    watches_.clear();
  }

 private:
  struct Watch {
    uv_poll_t handle;
    TunPoller* owner;
    int32_t id;
    int fd;
    bool closing;
  };

  Napi::Value Add(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int64_t id, fd;
    if (!ArgInt(info, 0, "TunPoller.add", "id", INT32_MIN, INT32_MAX, &id) ||
        !ArgInt(info, 1, "TunPoller.add", "fd", 0, kMaxFd, &fd)) {
      return env.Undefined();
    }
    if (!ready_ || closed_) {
      Napi::Error::New(env, "TunPoller.add: poller is closed").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (watches_.count(static_cast<int32_t>(id)) != 0) {
      Napi::Error::New(env, "TunPoller.add: id " + std::to_string(id) + " is already polled")
          .ThrowAsJavaScriptException();
      return env.Undefined();
    }
    Watch* w = new Watch{};
    w->owner = this;
    w->id = static_cast<int32_t>(id);
    w->fd = static_cast<int>(fd);
    // uv_poll_init fails before touching the loop's handle queue, so a plain delete is safe.
    int rc = uv_poll_init(loop_, &w->handle, w->fd);
    if (rc != 0) {
      delete w;
      Napi::Error::New(env, "TunPoller.add(" + std::to_string(id) + ", fd " + std::to_string(fd) +
                                "): uv_poll_init: " + uv_strerror(rc))
          .ThrowAsJavaScriptException();
      return env.Undefined();
    }
    w->handle.data = w;
    rc = uv_poll_start(&w->handle, UV_READABLE, OnPoll);
    if (rc != 0) {
      StopHandle(w);
      Napi::Error::New(env, "TunPoller.add(" + std::to_string(id) + ", fd " + std::to_string(fd) +
                                "): uv_poll_start: " + uv_strerror(rc))
          .ThrowAsJavaScriptException();
      return env.Undefined();
    }
    // While anything is polled the wrapper must not be collected, or its handles would leak.
    if (watches_.empty()) Ref();
    watches_.emplace(w->id, w);
    return env.Undefined();
  }

  Napi::Value Remove(const Napi::CallbackInfo& info) {
    int64_t id;
    if (!ArgInt(info, 0, "TunPoller.remove", "id", INT32_MIN, INT32_MAX, &id)) return info.Env().Undefined();
    auto it = watches_.find(static_cast<int32_t>(id));
    if (it != watches_.end()) Stop(it->second);
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    closed_ = true;
    while (!watches_.empty()) Stop(watches_.begin()->second);
    return info.Env().Undefined();
  }

  void Stop(Watch* w) {
    watches_.erase(w->id);
    StopHandle(w);
    if (watches_.empty()) Unref();
  }

  // The Watch is freed in the close callback: libuv may still reference it until then.
  static void StopHandle(Watch* w) {
    w->closing = true;
    uv_poll_stop(&w->handle);
    uv_close(reinterpret_cast<uv_handle_t*>(&w->handle), OnClosed);
  }

  static void OnClosed(uv_handle_t* h) { delete static_cast<Watch*>(h->data); }

  static void OnPoll(uv_poll_t* h, int status, int /*events*/) {
    Watch* w = static_cast<Watch*>(h->data);
    if (w->closing) return;
    if (status < 0) {
      w->owner->Stop(w);
      return;
    }
    w->owner->Drain(w);
  }

  // Level-triggered: stopping at maxBatch is fine, the loop reports the fd again next tick.
  void Drain(Watch* w) {
    size_t n = 0;
    bool dead = false;
    while (n < maxBatch_) {
      size_t off = n * slotBytes_;
      ssize_t r = read(w->fd, arena_ + off, slotBytes_);
      if (r > 0) {
        offs_[n] = static_cast<int32_t>(off);
        lens_[n] = static_cast<int32_t>(r);
        ++n;
        continue;
      }
      if (r < 0 && errno == EINTR) continue;
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      // EOF or a hard error (EIO/EBADFD once the device is gone): polling again would spin.
      dead = true;
      break;
    }
    if (n > 0) Deliver(w, n);
    // The callback may have removed this id or closed the poller; then w is already closing.
    if (dead && !w->closing) Stop(w);
  }

  void Deliver(Watch* w, size_t n) {
    napi_env env = Env();
    Napi::HandleScope scope(env);
    napi_value argv[2];
    napi_create_int32(env, w->id, &argv[0]);
    napi_create_uint32(env, static_cast<uint32_t>(n), &argv[1]);
    // make_callback (not call_function) so async_hooks, domains and the microtask queue behave
    // as for any libuv-driven callback; it needs an object receiver, undefined throws.
    napi_value recv = Value();
    napi_value result;
    if (napi_make_callback(env, ctx_, recv, onBatch_.Value(), 2, argv, &result) != napi_ok) {
      // No JS frame is above us to rethrow into: hand the exception to process 'uncaughtException'.
      bool pending = false;
      napi_is_exception_pending(env, &pending);
      if (pending) {
        napi_value exc;
        napi_get_and_clear_last_exception(env, &exc);
        napi_fatal_exception(env, exc);
      }
    }
  }

  Napi::AsyncContext ctx_;
  Napi::ObjectReference arenaRef_, offsRef_, lensRef_;
  Napi::FunctionReference onBatch_;
  uv_loop_t* loop_ = nullptr;
  uint8_t* arena_ = nullptr;
  int32_t* offs_ = nullptr;
  int32_t* lens_ = nullptr;
  size_t slotBytes_ = 0;
  size_t maxBatch_ = 0;
  bool ready_ = false;
  bool closed_ = false;
  std::unordered_map<int32_t, Watch*> watches_;
};

// Validates one [off, off+len) span against a buffer of size cap.
inline bool InBounds(int64_t off, int64_t len, size_t cap) {
  return off >= 0 && len >= 0 && static_cast<uint64_t>(off) + static_cast<uint64_t>(len) <= cap;
}

Napi::Value WriteBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "writeBatch";
  int32_t *fds, *offs, *lens;
  size_t fdsLen, offsLen, lensLen, arenaLen;
  uint8_t* arena;
  int64_t count;
  if (!ArgInt32Array(info, 0, fn, "fds", &fds, &fdsLen) || !ArgBuffer(info, 1, fn, "arena", &arena, &arenaLen) ||
      !ArgInt32Array(info, 2, fn, "offs", &offs, &offsLen) ||
      !ArgInt32Array(info, 3, fn, "lens", &lens, &lensLen) || !ArgInt(info, 4, fn, "count", 0, INT32_MAX, &count)) {
    return env.Undefined();
  }
  size_t n = static_cast<size_t>(count);
  if (n > fdsLen || n > offsLen || n > lensLen) {
    Napi::RangeError::New(env, "writeBatch: count exceeds fds/offs/lens length").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  // Validate everything first so a bad entry cannot leave the batch half-written.
  for (size_t i = 0; i < n; ++i) {
    if (fds[i] >= 0 && !InBounds(offs[i], lens[i], arenaLen)) {
      Napi::RangeError::New(env, "writeBatch: packet " + std::to_string(i) + " (off " + std::to_string(offs[i]) +
                                     ", len " + std::to_string(lens[i]) + ") is outside the arena")
          .ThrowAsJavaScriptException();
      return env.Undefined();
    }
  }
  uint32_t failures = 0;
  for (size_t i = 0; i < n; ++i) {
    if (fds[i] < 0) continue;
    ssize_t r;
    do {
      r = write(fds[i], arena + offs[i], static_cast<size_t>(lens[i]));
    } while (r < 0 && errno == EINTR);
    // A TUN write is all-or-nothing; anything else (EAGAIN on a full queue, EIO, EINVAL for a
    // malformed packet) is a dropped packet for the caller to count.
    if (r != lens[i]) ++failures;
  }
  return Napi::Number::New(env, failures);
}

Napi::Value WritePacket(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "writePacket";
  int64_t fd, off, len;
  uint8_t* buf;
  size_t bufLen;
  if (!ArgInt(info, 0, fn, "fd", INT32_MIN, INT32_MAX, &fd) || !ArgBuffer(info, 1, fn, "buf", &buf, &bufLen) ||
      !ArgInt(info, 2, fn, "off", 0, kMaxSafeInt, &off) || !ArgInt(info, 3, fn, "len", 0, kMaxSafeInt, &len)) {
    return env.Undefined();
  }
  if (!InBounds(off, len, bufLen)) {
    Napi::RangeError::New(env, "writePacket: [off, off+len) is outside buf").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  ssize_t r;
  do {
    r = write(static_cast<int>(fd), buf + off, static_cast<size_t>(len));
  } while (r < 0 && errno == EINTR);
  return Napi::Number::New(env, r < 0 ? -errno : static_cast<double>(r));
}

Napi::Value Copy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* fn = "copy";
  uint8_t *dst, *src;
  size_t dstLen, srcLen;
  int64_t dstOff, srcOff, len;
  if (!ArgBuffer(info, 0, fn, "dst", &dst, &dstLen) || !ArgInt(info, 1, fn, "dstOff", 0, kMaxSafeInt, &dstOff) ||
      !ArgBuffer(info, 2, fn, "src", &src, &srcLen) || !ArgInt(info, 3, fn, "srcOff", 0, kMaxSafeInt, &srcOff) ||
      !ArgInt(info, 4, fn, "len", 0, kMaxSafeInt, &len)) {
    return env.Undefined();
  }
  if (!InBounds(dstOff, len, dstLen) || !InBounds(srcOff, len, srcLen)) {
    Napi::RangeError::New(env, "copy: " + std::to_string(len) + " bytes at dst[" + std::to_string(dstOff) +
                                   "] (length " + std::to_string(dstLen) + ") from src[" + std::to_string(srcOff) +
                                   "] (length " + std::to_string(srcLen) + ") is out of bounds")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  // memmove: dst and src may be views of the same arena.
  if (len > 0) memmove(dst + dstOff, src + srcOff, static_cast<size_t>(len));
  return env.Undefined();
}

Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd;
  if (!ArgInt(info, 0, "closeFd", "fd", 0, kMaxFd, &fd)) return env.Undefined();
  // EINTR still closes the fd on Linux (retrying could close a reused number); EBADF is a
  // double close in the caller, worth surfacing.
  if (close(static_cast<int>(fd)) != 0 && errno != EINTR) {
    int e = errno;
    ErrnoError(env, "closeFd(" + std::to_string(fd) + "): " + strerror(e), e).ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

}  // namespace

void InitTunIo(Napi::Env env, Napi::Object exports) {
  exports.Set("TunPoller", TunPoller::Define(env));
  exports.Set("writeBatch", Napi::Function::New(env, WriteBatch, "writeBatch"));
  exports.Set("writePacket", Napi::Function::New(env, WritePacket, "writePacket"));
  exports.Set("copy", Napi::Function::New(env, Copy, "copy"));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd, "closeFd"));
}

}  // namespace kemu
