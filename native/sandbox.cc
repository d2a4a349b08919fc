// Pod sandboxes: named network + UTS namespaces and the TUN that is the pod's eth0.
//
// Everything runs on the calling (JS main) thread. unshare(CLONE_NEWNET|CLONE_NEWUTS) only
// affects that thread, so libuv/V8 helper threads keep the root namespaces; the thread returns
// to its saved namespaces before createSandbox returns, whether it succeeded or not.
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "kemu.h"

// Debian 12's 6.1 uapi headers predate UDP segmentation offload on TUN (kernel 6.2).
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#endif
#ifndef TUN_F_USO6
#define TUN_F_USO6 0x40
#endif

namespace kemu {
namespace {

struct Spec {
  std::string netnsPath;
  std::string utsPath;
  std::string hostname;
  std::string ifname;
  uint32_t address = 0;
  uint32_t gateway = 0;
  int prefixLen = 0;
  int mtu = 0;
  bool offload = false;
};

struct Result {
  int fd = -1;
  bool vnetHdr = false;
  unsigned offloadFlags = 0;
};

// sizeof(struct virtio_net_hdr); linux/virtio_net.h is not valid C++ (a field named "class").
constexpr int kVnetHdrLen = 10;
constexpr unsigned kOffloadFull =
    TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN | TUN_F_USO4 | TUN_F_USO6;
constexpr unsigned kOffloadNoUso = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN;
// Same txqueuelen veth uses; the TUN default (500) overruns under TCP bursts without offload.
constexpr int kTxQueueLen = 1000;

void CopyIfname(struct ifreq* ifr, const std::string& name) {
  memset(ifr, 0, sizeof(*ifr));
  strncpy(ifr->ifr_name, name.c_str(), IFNAMSIZ - 1);
}

void SetInet(struct sockaddr* sa, uint32_t hostOrder) {
  struct sockaddr_in sin;
  memset(&sin, 0, sizeof(sin));
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(hostOrder);
  memcpy(sa, &sin, sizeof(sin));
}

// Builds one sandbox and undoes every completed step if a later one fails. On failure step()
// names what failed and err() holds its errno.
class SandboxBuilder {
 public:
  explicit SandboxBuilder(const Spec& spec) : s_(spec) {}

  bool Run(Result* r) {
    bool ok = Build(r);
    if (!ok) Rollback();
    // Returning to the caller's namespaces is not optional: if it failed, every later socket
    // the daemon opens would silently live in the pod's namespace.
    if (unshared_ && !RestoreNamespaces()) {
      std::string msg = "createSandbox(" + s_.netnsPath + "): setns back to the original namespaces failed: " +
                        strerror(errno);
      Napi::Error::Fatal("kemu", msg.c_str());
    }
    CloseFd(&savedNet_);
    CloseFd(&savedUts_);
    if (ok) {
      r->fd = tun_;
      tun_ = -1;
    }
    return ok;
  }

  const std::string& step() const { return step_; }
  int err() const { return err_; }

 private:
  bool Build(Result* r) {
    // Saved first so the thread can always find its way back.
    savedNet_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (savedNet_ < 0) return Fail("open /proc/thread-self/ns/net");
    savedUts_ = open("/proc/thread-self/ns/uts", O_RDONLY | O_CLOEXEC);
    if (savedUts_ < 0) return Fail("open /proc/thread-self/ns/uts");
    if (unshare(CLONE_NEWNET | CLONE_NEWUTS) != 0) return Fail("unshare");
    unshared_ = true;
    if (sethostname(s_.hostname.data(), s_.hostname.size()) != 0) return Fail("sethostname");
    if (!BindNamespace("/proc/thread-self/ns/net", s_.netnsPath, &netCreated_, &netMounted_)) return false;
    if (!BindNamespace("/proc/thread-self/ns/uts", s_.utsPath, &utsCreated_, &utsMounted_)) return false;
    // /dev/net/tun binds the device to the opener's netns, so it must be opened after unshare.
    if (!OpenTun(r)) return false;
    return Configure();
  }

  bool Fail(const std::string& step) { return Fail(step, errno); }
  bool Fail(const std::string& step, int err) {
    step_ = step;
    err_ = err;
    return false;
  }

  static void CloseFd(int* fd) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }

  // Like `ip netns add`: an empty file (mode 0) with the thread's namespace bind-mounted on it.
  bool BindNamespace(const char* src, const std::string& dst, bool* created, bool* mounted) {
    int fd = open(dst.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
    if (fd < 0) return Fail("create " + dst);
    close(fd);
    *created = true;
    if (mount(src, dst.c_str(), "none", MS_BIND, nullptr) != 0) return Fail("bind-mount " + dst);
    *mounted = true;
    return true;
  }

  bool OpenTun(Result* r) {
    bool vnet = s_.offload;
    for (;;) {
      tun_ = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
      if (tun_ < 0) return Fail("open /dev/net/tun");
      struct ifreq ifr;
      CopyIfname(&ifr, s_.ifname);
      ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0);
      if (ioctl(tun_, TUNSETIFF, &ifr) == 0) break;
      int e = errno;
      CloseFd(&tun_);
      // A kernel without vnet-hdr support still gives a usable plain TUN.
      if (vnet && e == EINVAL) {
        vnet = false;
        continue;
      }
      return Fail("TUNSETIFF " + s_.ifname, e);
    }
    r->vnetHdr = vnet;
    r->offloadFlags = 0;
    if (vnet) {
      // The JS side assumes the 10-byte virtio_net_hdr; make it explicit rather than a default.
      int hdrLen = kVnetHdrLen;
      if (ioctl(tun_, TUNSETVNETHDRSZ, &hdrLen) != 0) return Fail("TUNSETVNETHDRSZ " + s_.ifname);
      // USO needs kernel >= 6.2; older kernels reject unknown bits with EINVAL.
      const unsigned attempts[] = {kOffloadFull, kOffloadNoUso, 0};
      bool set = false;
      for (unsigned flags : attempts) {
        if (ioctl(tun_, TUNSETOFFLOAD, static_cast<unsigned long>(flags)) == 0) {
          r->offloadFlags = flags;
          set = true;
          break;
        }
        if (errno != EINVAL) return Fail("TUNSETOFFLOAD " + s_.ifname);
      }
      if (!set) return Fail("TUNSETOFFLOAD " + s_.ifname, EINVAL);
    }
    int fl = fcntl(tun_, F_GETFL);
    if (fl < 0 || fcntl(tun_, F_SETFL, fl | O_NONBLOCK) != 0) return Fail("O_NONBLOCK " + s_.ifname);
    return true;
  }

  bool IfIoctl(unsigned long req, const char* reqName, struct ifreq* ifr) {
    if (ioctl(sock_, req, ifr) != 0) return Fail(std::string(reqName) + " " + ifr->ifr_name);
    return true;
  }

  bool LinkUp(const std::string& name) {
    struct ifreq ifr;
    CopyIfname(&ifr, name);
    if (!IfIoctl(SIOCGIFFLAGS, "SIOCGIFFLAGS", &ifr)) return false;
    ifr.ifr_flags |= IFF_UP;
    return IfIoctl(SIOCSIFFLAGS, "SIOCSIFFLAGS", &ifr);
  }

  // Classic ioctls rather than rtnetlink: a handful of synchronous calls, no message parsing.
  bool Configure() {
    // Created inside the new namespace, so every ioctl below targets it.
    sock_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock_ < 0) return Fail("socket");
    struct ifreq ifr;
    CopyIfname(&ifr, s_.ifname);
    ifr.ifr_mtu = s_.mtu;
    if (!IfIoctl(SIOCSIFMTU, "SIOCSIFMTU", &ifr)) return false;
    CopyIfname(&ifr, s_.ifname);
    ifr.ifr_qlen = kTxQueueLen;
    if (!IfIoctl(SIOCSIFTXQLEN, "SIOCSIFTXQLEN", &ifr)) return false;
    CopyIfname(&ifr, s_.ifname);
    SetInet(&ifr.ifr_addr, s_.address);
    if (!IfIoctl(SIOCSIFADDR, "SIOCSIFADDR", &ifr)) return false;
    // SIOCSIFADDR picked a classful mask; replace it with the real prefix.
    CopyIfname(&ifr, s_.ifname);
    uint32_t mask = s_.prefixLen == 0 ? 0 : ~uint32_t{0} << (32 - s_.prefixLen);
    SetInet(&ifr.ifr_netmask, mask);
    if (!IfIoctl(SIOCSIFNETMASK, "SIOCSIFNETMASK", &ifr)) return false;
    if (!LinkUp(s_.ifname) || !LinkUp("lo")) return false;

    struct rtentry rt;
    memset(&rt, 0, sizeof(rt));
    SetInet(&rt.rt_dst, 0);
    SetInet(&rt.rt_genmask, 0);
    rt.rt_flags = RTF_UP;
    if (s_.gateway != 0) {
      SetInet(&rt.rt_gateway, s_.gateway);
      rt.rt_flags |= RTF_GATEWAY;
    }
    std::string dev = s_.ifname;  // rt_dev is a non-const char*
    rt.rt_dev = &dev[0];
    if (ioctl(sock_, SIOCADDRT, &rt) != 0) return Fail("SIOCADDRT default dev " + s_.ifname);
    CloseFd(&sock_);
    return true;
  }

  bool RestoreNamespaces() {
    return setns(savedNet_, CLONE_NEWNET) == 0 && setns(savedUts_, CLONE_NEWUTS) == 0;
  }

  static void Unmount(const std::string& path, bool mounted, bool created) {
    if (mounted) umount2(path.c_str(), MNT_DETACH);
    if (created) unlink(path.c_str());
  }

  void Rollback() {
    CloseFd(&sock_);
    CloseFd(&tun_);  // deletes the device
    // Only what this call created: a pre-existing netnsPath (EEXIST) belongs to someone else.
    Unmount(s_.utsPath, utsMounted_, utsCreated_);
    Unmount(s_.netnsPath, netMounted_, netCreated_);
  }

  const Spec& s_;
  std::string step_;
  int err_ = 0;
  int savedNet_ = -1;
  int savedUts_ = -1;
  int tun_ = -1;
  int sock_ = -1;
  bool unshared_ = false;
  bool netCreated_ = false, netMounted_ = false;
  bool utsCreated_ = false, utsMounted_ = false;
};

// Spec field readers. Errors name the sandbox path so the caller's log says which pod failed.
class SpecReader {
 public:
  SpecReader(Napi::Object obj, std::string prefix) : obj_(obj), prefix_(std::move(prefix)) {}

  bool String(const char* key, size_t maxLen, std::string* out) {
    Napi::Value v = obj_.Get(key);
    if (!v.IsString()) return Type(key, "a string");
    *out = v.As<Napi::String>().Utf8Value();
    if (out->empty() || out->size() > maxLen || out->find('\0') != std::string::npos) {
      return Range(std::string(key) + " must be 1.." + std::to_string(maxLen) + " bytes without NUL");
    }
    return true;
  }

  bool Int(const char* key, double min, double max, double* out) {
    Napi::Value v = obj_.Get(key);
    if (!v.IsNumber()) return Type(key, "a number");
    double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= min && d <= max) || d != static_cast<double>(static_cast<int64_t>(d))) {
      return Range(std::string(key) + " " + Napi::Number::New(obj_.Env(), d).ToString().Utf8Value() +
                   " is not an integer in [" + std::to_string(static_cast<int64_t>(min)) + ", " +
                   std::to_string(static_cast<int64_t>(max)) + "]");
    }
    *out = d;
    return true;
  }

  // IPv4 as uint32; a negative int32 (JS `ip | 0`) is accepted and reinterpreted.
  bool Ipv4(const char* key, uint32_t* out) {
    double d;
    if (!Int(key, -2147483648.0, 4294967295.0, &d)) return false;
    *out = d < 0 ? static_cast<uint32_t>(static_cast<int32_t>(d)) : static_cast<uint32_t>(d);
    return true;
  }

  bool Bool(const char* key, bool* out) {
    Napi::Value v = obj_.Get(key);
    if (!v.IsBoolean()) return Type(key, "a boolean");
    *out = v.As<Napi::Boolean>().Value();
    return true;
  }

 private:
  bool Type(const char* key, const char* expected) {
    Napi::TypeError::New(obj_.Env(), prefix_ + std::string(key) + " must be " + expected)
        .ThrowAsJavaScriptException();
    return false;
  }
  bool Range(const std::string& msg) {
    Napi::RangeError::New(obj_.Env(), prefix_ + msg).ThrowAsJavaScriptException();
    return false;
  }

  Napi::Object obj_;
  std::string prefix_;
};

Napi::Value CreateSandbox(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    Napi::TypeError::New(env, "createSandbox: spec must be an object").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object obj = info[0].As<Napi::Object>();
  Spec s;
  Napi::Value np = obj.Get("netnsPath");
  if (!np.IsString() || np.As<Napi::String>().Utf8Value().empty()) {
    Napi::TypeError::New(env, "createSandbox: spec.netnsPath must be a non-empty string")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  s.netnsPath = np.As<Napi::String>().Utf8Value();
  SpecReader rd(obj, "createSandbox(" + s.netnsPath + "): ");
  double prefixLen, mtu;
  if (!rd.String("netnsPath", 4095, &s.netnsPath) || !rd.String("utsPath", 4095, &s.utsPath) ||
      !rd.String("hostname", 64, &s.hostname) || !rd.String("ifname", IFNAMSIZ - 1, &s.ifname) ||
      !rd.Ipv4("address", &s.address) || !rd.Int("prefixLen", 0, 32, &prefixLen) ||
      !rd.Ipv4("gateway", &s.gateway) || !rd.Int("mtu", 1, 65535, &mtu) || !rd.Bool("offload", &s.offload)) {
    return env.Undefined();
  }
  s.prefixLen = static_cast<int>(prefixLen);
  s.mtu = static_cast<int>(mtu);

  Result r;
  SandboxBuilder b(s);
  if (!b.Run(&r)) {
    ErrnoError(env, "createSandbox(" + s.netnsPath + "): " + b.step() + ": " + strerror(b.err()), b.err())
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("fd", Napi::Number::New(env, r.fd));
  out.Set("vnetHdr", Napi::Boolean::New(env, r.vnetHdr));
  out.Set("offloadFlags", Napi::Number::New(env, r.offloadFlags));
  return out;
}

// mkdir -p with mode 0755; existing directories are fine.
bool MkdirP(const std::string& dir, std::string* failedAt) {
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    std::string part = dir.substr(0, pos);
    if (mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) {
      *failedAt = part;
      return false;
    }
  }
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) {
    *failedAt = dir;
    return false;
  }
  if (!S_ISDIR(st.st_mode)) {
    *failedAt = dir;
    errno = ENOTDIR;
    return false;
  }
  return true;
}

Napi::Value PrepareNamespaceDir(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string dir;
  if (!ArgString(info, 0, "prepareNamespaceDir", "dir", &dir)) return env.Undefined();
  std::string failedAt;
  if (dir.empty() || !MkdirP(dir, &failedAt)) {
    int e = dir.empty() ? EINVAL : errno;
    ErrnoError(env, "prepareNamespaceDir(" + dir + "): mkdir " + failedAt + ": " + strerror(e), e)
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  // Same dance as iproute2's netns_add: a shared mount point, so that namespace mounts made here
  // propagate into (and their unmounts out of) mount namespaces such as `ip netns exec`'s.
  bool bound = false;
  while (mount("", dir.c_str(), "none", MS_SHARED | MS_REC, nullptr) != 0) {
    int e = errno;
    // EINVAL: dir is not a mount point yet; make it one by bind-mounting it on itself.
    if (e != EINVAL || bound) {
      ErrnoError(env, "prepareNamespaceDir(" + dir + "): make shared: " + strerror(e), e)
          .ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (mount(dir.c_str(), dir.c_str(), "none", MS_BIND | MS_REC, nullptr) != 0) {
      e = errno;
      ErrnoError(env, "prepareNamespaceDir(" + dir + "): bind-mount on itself: " + strerror(e), e)
          .ThrowAsJavaScriptException();
      return env.Undefined();
    }
    bound = true;
  }
  return env.Undefined();
}

Napi::Value DestroyNamespace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path;
  if (!ArgString(info, 0, "destroyNamespace", "path", &path)) return env.Undefined();
  // EINVAL: not a mount point (already unmounted); ENOENT: already gone.
  if (umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
    int e = errno;
    ErrnoError(env, "destroyNamespace(" + path + "): umount: " + strerror(e), e).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    int e = errno;
    ErrnoError(env, "destroyNamespace(" + path + "): unlink: " + strerror(e), e).ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

}  // namespace

void InitSandbox(Napi::Env env, Napi::Object exports) {
  exports.Set("prepareNamespaceDir", Napi::Function::New(env, PrepareNamespaceDir, "prepareNamespaceDir"));
  exports.Set("createSandbox", Napi::Function::New(env, CreateSandbox, "createSandbox"));
  exports.Set("destroyNamespace", Napi::Function::New(env, DestroyNamespace, "destroyNamespace"));
}

}  // namespace kemu
