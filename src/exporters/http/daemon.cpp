#include "exporters/http/daemon.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstring>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "common/log.h"
#include "exporters/http/tls.h"

namespace em::http {

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kWatchdogPeriod = std::chrono::milliseconds(200);
constexpr int kBacklog = 128;

}  // namespace

Result<ListenAddress> parse_listen(const std::string& s) {
    auto bad = [&](const char* why) { return Error{"bad listen address '" + s + "': " + why}; };
    ListenAddress out;
    std::string_view port;
    if (!s.empty() && s[0] == '[') {
        size_t close = s.find("]:");
        if (close == std::string::npos) return bad("want [ADDR]:PORT");
        out.host = s.substr(1, close - 1);
        port = std::string_view(s).substr(close + 2);
    } else {
        size_t colon = s.rfind(':');
        if (colon == std::string::npos) return bad("want ADDR:PORT");
        out.host = s.substr(0, colon);
        if (out.host.find(':') != std::string::npos) return bad("write IPv6 as [ADDR]:PORT");
        port = std::string_view(s).substr(colon + 1);
    }
    if (out.host.empty()) return bad("no address");
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), out.port);
    if (port.empty() || ec != std::errc() || p != port.data() + port.size() || out.port < 0 ||
        out.port > 65535)
        return bad("port must be 0..65535");
    return out;
}

namespace {

// The listening socket is made here rather than by libmicrohttpd so that its errors name the
// address, and SO_REUSEADDR without SO_REUSEPORT keeps a second instance from sharing it.
Result<UniqueFd> listen_on(const std::string& text, const ListenAddress& a) {
    sockaddr_storage ss{};
    socklen_t len = 0;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (inet_pton(AF_INET, a.host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(static_cast<uint16_t>(a.port));
        len = sizeof *v4;
    } else if (inet_pton(AF_INET6, a.host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(static_cast<uint16_t>(a.port));
        len = sizeof *v6;
    } else {
        return Error{"bad listen address '" + text + "': not an IP address"};
    }
    UniqueFd fd(::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd.valid()) return errno_error("cannot listen on " + text);
    int yes = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    if (ss.ss_family == AF_INET6)
        ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &yes, sizeof yes);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0 ||
        ::listen(fd.get(), kBacklog) != 0)
        return errno_error("cannot listen on " + text);
    return fd;
}

// One accepted connection, from libmicrohttpd's "started" notification to "closed" (which
// comes before the socket is closed, so the watchdog may shut down a registered fd).
struct Conn {
    int fd = -1;
    Clock::time_point deadline;
    bool in_response = false;  // headers complete, response not yet sent
    bool shut = false;
};

}  // namespace

std::string_view trim_ows(std::string_view s) {
    auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

Reply Reply::text(int status, std::string body, std::string type) {
    Reply r;
    r.status = status;
    r.body = std::move(body);
    r.headers.emplace_back("Content-Type", std::move(type));
    return r;
}

std::map<std::string, uint64_t> DaemonCounters::snapshot() const {
    return {{"requests", requests.load()},
            {"request_deadline", request_deadline.load()},
            {"response_deadline", response_deadline.load()},
            {"too_many_headers", too_many_headers.load()},
            {"body_refused", body_refused.load()}};
}

struct Daemon::Impl {
    DaemonConfig cfg;
    Handler handler;
    std::string cert_pem, key_pem;
    UniqueFd listen_fd;
    int port = 0;
    MHD_Daemon* mhd = nullptr;
    DaemonCounters counters;
    std::string start_error;  // libmicrohttpd's last message while starting

    std::mutex mu;
    std::condition_variable cv;
    bool stopping = false;
    std::unordered_set<Conn*> conns;
    std::thread watchdog;

    Clock::duration request_time() const {
        return std::chrono::seconds(cfg.limits.request_seconds);
    }
    Clock::duration response_time() const {
        return std::chrono::seconds(cfg.limits.response_seconds);
    }

    void watch() {
        std::unique_lock lock(mu);
        while (!stopping) {
            cv.wait_for(lock, kWatchdogPeriod);
            auto now = Clock::now();
            for (Conn* c : conns) {
                if (c->shut || now < c->deadline) continue;
                // The next read or write fails and libmicrohttpd closes the connection.
                ::shutdown(c->fd, SHUT_RDWR);
                c->shut = true;
                (c->in_response ? counters.response_deadline : counters.request_deadline)++;
            }
        }
    }

    static void on_connection(void* cls, MHD_Connection* connection, void** socket_context,
                              MHD_ConnectionNotificationCode code) {
        auto* self = static_cast<Impl*>(cls);
        if (code == MHD_CONNECTION_NOTIFY_STARTED) {
            const MHD_ConnectionInfo* info =
                MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
            auto* c = new Conn{info ? info->connect_fd : -1, Clock::now() + self->request_time()};
            *socket_context = c;
            std::lock_guard lock(self->mu);
            if (c->fd >= 0) self->conns.insert(c);
        } else {
            auto* c = static_cast<Conn*>(*socket_context);
            if (!c) return;
            {
                std::lock_guard lock(self->mu);
                self->conns.erase(c);
            }
            delete c;
            *socket_context = nullptr;
        }
    }

    static Conn* conn_of(MHD_Connection* connection) {
        const MHD_ConnectionInfo* info =
            MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        return info ? static_cast<Conn*>(info->socket_context) : nullptr;
    }

    void set_phase(MHD_Connection* connection, bool in_response) {
        Conn* c = conn_of(connection);
        if (!c) return;
        std::lock_guard lock(mu);
        c->in_response = in_response;
        c->deadline = Clock::now() + (in_response ? response_time() : request_time());
    }

    static void on_completed(void* cls, MHD_Connection* connection, void** con_cls,
                             MHD_RequestTerminationCode) {
        auto* self = static_cast<Impl*>(cls);
        // A POST's body buffer (on_request); every other request has `self` there.
        if (con_cls && *con_cls && *con_cls != self) {
            delete static_cast<std::string*>(*con_cls);
            *con_cls = nullptr;
        }
        // The next request on a kept-alive connection has the request deadline again.
        self->set_phase(connection, false);
    }

    static MHD_Result queue(MHD_Connection* connection, Reply&& reply) {
        MHD_Response* response = nullptr;
        if (reply.file.valid()) {
            // Takes the fd: libmicrohttpd closes it with the response.
            response =
                MHD_create_response_from_fd_at_offset64(reply.file_size, reply.file.get(), 0);
            if (response) reply.file.release();
        } else {
            response = MHD_create_response_from_buffer(reply.body.size(), reply.body.data(),
                                                       MHD_RESPMEM_MUST_COPY);
        }
        if (!response) return MHD_NO;
        for (const auto& [name, value] : reply.headers)
            MHD_add_response_header(response, name.c_str(), value.c_str());
        MHD_Result r =
            MHD_queue_response(connection, static_cast<unsigned>(reply.status), response);
        MHD_destroy_response(response);
        return r;
    }

    static MHD_Result on_request(void* cls, MHD_Connection* connection, const char* url,
                                 const char* method, const char* /*version*/,
                                 const char* upload_data, size_t* upload_data_size,
                                 void** con_cls) {
        auto* self = static_cast<Impl*>(cls);
        if (*con_cls == nullptr) {
            // Headers complete. A reply queued now closes the connection afterwards
            // (libmicrohttpd 0.9.75): only refusals are; the rest is answered on the next call.
            *con_cls = self;
            self->counters.requests++;
            self->set_phase(connection, true);
            int headers = MHD_get_connection_values(connection, MHD_HEADER_KIND, nullptr, nullptr);
            const char* length =
                MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Content-Length");
            const char* chunked =
                MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "Transfer-Encoding");
            const bool post = std::strcmp(method, "POST") == 0 && self->cfg.limits.max_body > 0;
            if (std::strcmp(method, "GET") != 0 && std::strcmp(method, "HEAD") != 0 && !post) {
                Reply r = Reply::text(405, "method not allowed\n");
                r.headers.emplace_back(
                    "Allow", self->cfg.limits.max_body > 0 ? "GET, HEAD, POST" : "GET, HEAD");
                return queue(connection, std::move(r));
            }
            if (headers < 0 || static_cast<unsigned>(headers) > self->cfg.limits.max_headers) {
                self->counters.too_many_headers++;
                return queue(connection, Reply::text(431, "too many header fields\n"));
            }
            if (post) {
                if (chunked) {
                    self->counters.body_refused++;
                    return queue(connection, Reply::text(411, "a body needs a Content-Length\n"));
                }
                size_t n = 0;
                if (length) {
                    const char* end = length + std::strlen(length);
                    auto [ptr, ec] = std::from_chars(length, end, n);
                    if (ec != std::errc() || ptr != end || n > self->cfg.limits.max_body)
                        n = SIZE_MAX;
                }
                if (n == SIZE_MAX) {
                    self->counters.body_refused++;
                    return queue(connection, Reply::text(413, "request body too large\n"));
                }
                // Freed by on_completed, whatever becomes of the request.
                auto* body = new std::string();
                body->reserve(n);
                *con_cls = body;
                return MHD_YES;
            }
            if ((length && std::strcmp(length, "0") != 0) || chunked) {
                self->counters.body_refused++;
                return queue(connection, Reply::text(413, "request bodies are not accepted\n"));
            }
            return MHD_YES;
        }
        std::string* body = *con_cls == self ? nullptr : static_cast<std::string*>(*con_cls);
        if (*upload_data_size != 0) {
            // Only a POST's: a GET's body was refused above. libmicrohttpd delivers no more
            // than the Content-Length checked above; the bound is kept here too.
            if (body && body->size() + *upload_data_size <= self->cfg.limits.max_body)
                body->append(upload_data, *upload_data_size);
            *upload_data_size = 0;
            return MHD_YES;
        }
        Reply reply;
        Request req{method, url,
                    [connection](const char* name) {
                        return MHD_lookup_connection_value(connection, MHD_HEADER_KIND, name);
                    },
                    [connection](const char* name) {
                        return MHD_lookup_connection_value(connection, MHD_GET_ARGUMENT_KIND, name);
                    },
                    body ? std::string_view(*body) : std::string_view()};
        try {
            reply = self->handler(req);
        } catch (const std::exception& e) {
            log_warn("{} {}: {}", method, url, e.what());
            reply = Reply::text(500, "internal error\n");
        }
        return queue(connection, std::move(reply));
    }

    static void on_log(void* cls, const char* fmt, va_list ap) {
        auto* self = static_cast<Impl*>(cls);
        char buf[512];
        std::vsnprintf(buf, sizeof buf, fmt, ap);
        std::string line(buf);
        while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
        // Clients' mistakes (and attackers' probes) are not worth a log line each; what
        // happens while starting is reported by start().
        if (!self->mhd) self->start_error = line;
        if (log_enabled(LogLevel::debug)) log_line(LogLevel::debug, "http: " + line);
    }
};

Result<std::unique_ptr<Daemon>> Daemon::start(const DaemonConfig& cfg, Handler handler) {
    auto addr = parse_listen(cfg.listen);
    if (!addr) return addr.error();
    // A peer that closes while a response is sent must cost an error, not the process
    // (GnuTLS and sendfile may write without MSG_NOSIGNAL).
    ::signal(SIGPIPE, SIG_IGN);
    auto impl = std::make_unique<Impl>();
    impl->cfg = cfg;
    impl->handler = std::move(handler);
    bool tls = !cfg.tls_cert.empty() || !cfg.tls_key.empty();
    if (tls) {
        auto pem = load_tls_pem(cfg.tls_cert, cfg.tls_key);
        if (!pem) return pem.error();
        impl->cert_pem = std::move(pem->cert);
        impl->key_pem = std::move(pem->key);
    }
    auto fd = listen_on(cfg.listen, *addr);
    if (!fd) return fd.error();
    impl->listen_fd = std::move(*fd);
    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    ::getsockname(impl->listen_fd.get(), reinterpret_cast<sockaddr*>(&bound), &len);
    impl->port =
        ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                          : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);

    if (cfg.before_serving)
        if (auto r = cfg.before_serving(); !r) return r.error();
    const Limits& l = cfg.limits;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (tls) flags |= MHD_USE_TLS;
    Impl* self = impl.get();
    std::vector<MHD_OptionItem> opts = {
        {MHD_OPTION_LISTEN_SOCKET, impl->listen_fd.get(), nullptr},
        {MHD_OPTION_THREAD_POOL_SIZE, l.threads, nullptr},
        {MHD_OPTION_CONNECTION_LIMIT, l.connections, nullptr},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, l.per_client, nullptr},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, static_cast<intptr_t>(l.connection_memory), nullptr},
        {MHD_OPTION_CONNECTION_TIMEOUT, l.idle_seconds, nullptr},
        {MHD_OPTION_STRICT_FOR_CLIENT, 1, nullptr},
        {MHD_OPTION_NOTIFY_CONNECTION, reinterpret_cast<intptr_t>(&Impl::on_connection), self},
        {MHD_OPTION_NOTIFY_COMPLETED, reinterpret_cast<intptr_t>(&Impl::on_completed), self},
        {MHD_OPTION_EXTERNAL_LOGGER, reinterpret_cast<intptr_t>(&Impl::on_log), self},
    };
    if (tls) {
        opts.push_back({MHD_OPTION_HTTPS_MEM_CERT, 0, impl->cert_pem.data()});
        opts.push_back({MHD_OPTION_HTTPS_MEM_KEY, 0, impl->key_pem.data()});
        opts.push_back({MHD_OPTION_HTTPS_PRIORITIES, 0, const_cast<char*>(kTlsPriorities)});
    }
    opts.push_back({MHD_OPTION_END, 0, nullptr});
    impl->mhd = MHD_start_daemon(flags, 0, nullptr, nullptr, &Impl::on_request, self,
                                 MHD_OPTION_ARRAY, opts.data(), MHD_OPTION_END);
    if (!impl->mhd) {
        // libmicrohttpd may have closed the socket on its way out: do not close it twice.
        impl->listen_fd.release();
        return Error{
            "cannot serve on " + cfg.listen + ": " +
            (impl->start_error.empty() ? "libmicrohttpd did not start" : impl->start_error)};
    }
    impl->watchdog = std::thread([self] { self->watch(); });
    return std::unique_ptr<Daemon>(new Daemon(std::move(impl)));
}

Daemon::Daemon(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Daemon::~Daemon() { stop(); }

void Daemon::stop() {
    if (!impl_ || !impl_->mhd) return;
    {
        std::lock_guard lock(impl_->mu);
        impl_->stopping = true;
    }
    impl_->cv.notify_all();
    if (impl_->watchdog.joinable()) impl_->watchdog.join();
    // Closes every connection (each "closed" notification unregisters it), then the
    // listening socket, which libmicrohttpd owns from start on.
    MHD_stop_daemon(impl_->mhd);
    impl_->mhd = nullptr;
    impl_->listen_fd.release();
}

int Daemon::port() const { return impl_->port; }

const DaemonCounters& Daemon::counters() const { return impl_->counters; }

}  // namespace em::http
