// The engine key: local or a Redis URL, and the password file of engine_password_file.
import Testing
@testable import Broker

@Suite struct EngineKeyTests {
    private func parse(_ line: String) throws(ConfigError) -> BrokerConfig {
        try ConfigFileParser.parse(line + "\n", file: "b.conf")
    }

    @Test func localAndRedisURLsAreRead() throws {
        #expect(try parse("engine local").engine == .local)
        #expect(try parse("engine redis://127.0.0.1").engine == .redis(host: "127.0.0.1", port: 6379, database: 0))
        #expect(try parse("engine redis://cache.internal:6380/3").engine == .redis(host: "cache.internal", port: 6380, database: 3))
        #expect(try parse("engine redis://[::1]:7000").engine == .redis(host: "::1", port: 7000, database: 0))
        #expect(try parse("engine redis://[::1]").engine == .redis(host: "::1", port: 6379, database: 0))
        for setting in [EngineSetting.local, .redis(host: "h", port: 1, database: 0), .redis(host: "::1", port: 6380, database: 9)] {
            #expect(EngineSetting.parse(setting.description) == .success(setting), "\(setting) renders to what it parses from")
        }
    }

    @Test func anythingElseIsRefusedNamingTheFileLineAndKey() {
        for bad in ["redis", "redis://", "redis://host:0", "redis://host:65536", "redis://host:x", "redis://ho st",
                    "redis://[::1", "redis://[127.0.0.1]:1", "redis://h/99999", "redis://h/", "memcached://h", "Local"] {
            do {
                _ = try parse("engine \"\(bad)\"")
                Issue.record("\(bad) was accepted")
            } catch {
                #expect(error.description.hasPrefix("b.conf:1: engine: expected local or redis://HOST[:PORT][/DB]"), "\(error)")
            }
        }
    }

    @Test func thePasswordComesFromItsFileAndIsNeverShown() throws {
        var config = BrokerConfig()
        #expect(try EngineEndpoint.resolve(config) == nil, "engine local connects to nothing")
        config.engine = .redis(host: "10.0.0.1", port: 6379, database: 2)
        config.enginePasswordFile = "/run/pw"
        let files = ConfigFileAccess.inMemory(["/run/pw": "  hunter2\n"])
        let endpoint = try EngineEndpoint.resolve(config, files: files)
        #expect(endpoint == RedisEndpoint(host: "10.0.0.1", port: 6379, database: 2, password: Array("hunter2".utf8)))
        do {
            _ = try EngineEndpoint.resolve(config, files: .inMemory(["/run/pw": " \n"]))
            Issue.record("an empty password file was accepted")
        } catch {
            #expect(error.description.contains("/run/pw") && error.description.contains("engine_password_file"))
        }
        do {
            _ = try EngineEndpoint.resolve(config, files: .inMemory([:]))
            Issue.record("a missing password file was accepted")
        } catch {
            #expect(error.description.contains("engine_password_file") && !error.description.contains("hunter2"))
        }
    }
}
