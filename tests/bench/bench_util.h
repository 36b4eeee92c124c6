// Helpers shared by the benchmark programs: spawning churnwatch, signing, synthetic payloads.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace churnwatch::bench {

struct Spawned {
    pid_t pid = -1;
    int port = 0;
};
// Starts `bin serve --listen 127.0.0.1:0 --db db ...extra` and waits for "listening on".
Spawned spawn_server(const std::string& bin, const std::string& db, const std::vector<std::string>& extra);
void stop_server(Spawned& s);                  // SIGTERM + wait
long peak_rss_kb(pid_t pid);                   // VmHWM from /proc

std::string legacy_signature(const std::string& secret, const std::string& body);

// A realistic ~1.2–1.6 KB delivery (2021-11 shapes) for sequence number seq: a rotating mix
// of subscription, charge and customer topics over `customers` customer ids, every body
// distinct. Returns the topic in `topic`.
std::string synthetic_delivery(uint64_t seq, uint64_t customers, std::string& topic);

// Measures one-row-per-commit inserts (WAL, synchronous=FULL) in dir for `seconds`.
double fsync_commits_per_second(const std::string& dir, double seconds);

}  // namespace churnwatch::bench
