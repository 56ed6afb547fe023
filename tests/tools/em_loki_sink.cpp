// em-loki-sink: a stand-in for Loki's push endpoint in the tests — accepts
// POST /loki/api/v1/push and appends each body as one line to FILE; answers 204.
//   em-loki-sink ADDR PORT FILE
#include <httplib.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: em-loki-sink ADDR PORT FILE\n");
        return 2;
    }
    std::string file = argv[3];
    httplib::Server server;
    server.Post("/loki/api/v1/push", [&](const httplib::Request& req, httplib::Response& res) {
        std::ofstream(file, std::ios::app) << req.body << "\n";
        res.status = 204;
    });
    if (!server.listen(argv[1], std::atoi(argv[2]))) {
        std::perror("em-loki-sink: listen");
        return 1;
    }
}
