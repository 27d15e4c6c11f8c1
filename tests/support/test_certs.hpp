#pragma once
// A throw-away PKI made at test time with the `openssl` CLI (EC P-256 keys, 30 days):
// a test CA and leaves it signed for localhost/127.0.0.1 and for otherhost.example, plus
// a second CA that no client trusts and a localhost leaf signed by it.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

namespace ballast::test {

struct TestPki {
    std::filesystem::path ca_file;          // PEM of the trusted test CA: give it to the client
    std::filesystem::path server_cert;      // localhost + 127.0.0.1, signed by the test CA
    std::filesystem::path server_key;
    std::filesystem::path wrong_host_cert;  // otherhost.example only, signed by the test CA
    std::filesystem::path wrong_host_key;
    std::filesystem::path untrusted_cert;   // localhost + 127.0.0.1, signed by an untrusted CA
    std::filesystem::path untrusted_key;
};

namespace detail {

inline std::string pki_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

// Runs one openssl command in `dir`; throws with its output when it fails.
inline void run_openssl(const std::filesystem::path& dir, const std::string& args) {
    const auto log = dir / "openssl.log";
    const std::string cmd = "cd " + pki_quote(dir.string()) + " && openssl " + args + " >" + pki_quote(log.string()) + " 2>&1";
    if (std::system(cmd.c_str()) != 0) {
        std::ifstream in(log);
        const std::string output((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        throw std::runtime_error("openssl " + args + " failed: " + output);
    }
}

inline void make_ca(const std::filesystem::path& dir, const std::string& name, const std::string& cn) {
    run_openssl(dir, "req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " + name +
                         ".key -out " + name + ".pem -days 30 -config pki.cnf -extensions ca -subj " + pki_quote("/CN=" + cn));
}

inline void make_leaf(const std::filesystem::path& dir, const std::string& name, const std::string& cn,
                      const std::string& ca, const std::string& extensions, int serial) {
    run_openssl(dir, "req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " + name + ".key -out " +
                         name + ".csr -config pki.cnf -subj " + pki_quote("/CN=" + cn));
    run_openssl(dir, "x509 -req -in " + name + ".csr -CA " + ca + ".pem -CAkey " + ca + ".key -set_serial " +
                         std::to_string(serial) + " -days 30 -extfile pki.cnf -extensions " + extensions + " -out " +
                         name + ".pem");
}

}  // namespace detail

// Writes the PKI into `dir` (which must exist). Throws std::runtime_error when openssl fails.
inline TestPki make_test_pki(const std::filesystem::path& dir) {
    {
        std::ofstream cnf(dir / "pki.cnf", std::ios::trunc);
        cnf << "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = ballast test\n"
               "[ca]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n"
               "subjectKeyIdentifier = hash\n"
               "[leaf_localhost]\nbasicConstraints = critical,CA:FALSE\n"
               "keyUsage = critical,digitalSignature,keyEncipherment\nextendedKeyUsage = serverAuth\n"
               "subjectAltName = DNS:localhost,IP:127.0.0.1\n"
               "[leaf_other]\nbasicConstraints = critical,CA:FALSE\n"
               "keyUsage = critical,digitalSignature,keyEncipherment\nextendedKeyUsage = serverAuth\n"
               "subjectAltName = DNS:otherhost.example\n";
    }
    detail::make_ca(dir, "ca", "ballast test CA");
    detail::make_ca(dir, "rogue_ca", "ballast untrusted CA");
    detail::make_leaf(dir, "server", "localhost", "ca", "leaf_localhost", 2);
    detail::make_leaf(dir, "wrong_host", "otherhost.example", "ca", "leaf_other", 3);
    detail::make_leaf(dir, "untrusted", "localhost", "rogue_ca", "leaf_localhost", 4);
    return TestPki{dir / "ca.pem",         dir / "server.pem",    dir / "server.key", dir / "wrong_host.pem",
                   dir / "wrong_host.key", dir / "untrusted.pem", dir / "untrusted.key"};
}

}  // namespace ballast::test
