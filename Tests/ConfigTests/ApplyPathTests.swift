// Each key's ApplyPath is real: a changed value of a live key arrives where its path says, and only there.
import Testing
@testable import Broker

@Suite struct ApplyPathTests {
    /// Token files for `auth_token_file`: every path exists and holds a token of its own.
    static let tokenFiles = ConfigFileAccess(
        exists: { _ in true },
        read: { path in .success("token-of-\(path.filter { $0.isLetter || $0.isNumber })\n") })

    /// The live settings of `config`, built the way `BrokerServer` builds them at start and on reload.
    static func liveSettings(_ config: BrokerConfig) throws -> LiveSettings {
        LiveSettings(config, authToken: try AuthToken.resolve(config, files: tokenFiles))
    }

    /// `base` with `key` changed to a valid value it did not hold, parsed as the file parser parses it.
    static func changing(_ key: ConfigKey, in base: BrokerConfig) -> BrokerConfig? {
        for text in ["2", "65", "::1", "debug", "s3cret", "2048", "2097152", "redis://127.0.0.1:6380", "off"] {
            var changed = base
            if key.apply(text, to: &changed) == nil, !key.isSame(in: base, and: changed) { return changed }
        }
        return nil
    }

    /// The mistake this guards against: a key declared live whose value never reaches
    /// `LiveSettings` (its line in `LiveSettings.init` missing, or copying another key),
    /// so a reload logs it as changed and nothing changes.
    @Test func aChangedLiveKeyArrivesInItsLiveSettingsFieldAndInNoOther() throws {
        let base = BrokerConfig()
        let before = try Self.liveSettings(base)
        for key in ConfigKey.all {
            let changed = try #require(Self.changing(key, in: base), "no valid other value for \(key.name)")
            let after = try Self.liveSettings(changed)
            for field in LiveSettings.Field.allCases {
                if field == key.applyPath.liveField {
                    #expect(!before.isSame(field, as: after),
                            "\(key.name) is declared \(key.applyPath), but a change leaves LiveSettings.\(field) as it was")
                } else {
                    #expect(before.isSame(field, as: after),
                            "a change of \(key.name) (declared \(key.applyPath)) changes LiveSettings.\(field)")
                }
            }
        }
    }

    /// What the reload plan does with each path: `.restart` keys keep their running
    /// value; every other key's new value is in the reloaded configuration, which the
    /// server applies and the daemon keeps (`.atShutdown` is read from it at SIGTERM).
    @Test func aReloadCarriesEveryLiveKeysNewValueAndKeepsEveryRestartKey() throws {
        let current = BrokerConfig()
        for key in ConfigKey.all {
            let changed = try #require(Self.changing(key, in: current), "no valid other value for \(key.name)")
            let files = ConfigFileAccess.inMemory(["b.conf": "\(key.name) \"\(key.render(changed))\"\n"])
            let outcome = BrokerConfig.reload(current: current, configPath: "b.conf", overriddenKeys: [], files: files)
            if key.applyPath == .restart {
                #expect(outcome == .applied(config: current, plan: ReloadPlan(liveKeys: [], restartKeys: [key.name])),
                        "\(key.name)")
            } else {
                #expect(outcome == .applied(config: changed, plan: ReloadPlan(liveKeys: [key.name], restartKeys: [])),
                        "\(key.name)")
            }
        }
    }

    @Test func everyLiveSettingsFieldIsFedBySomeKey() {
        let fed = Set(ConfigKey.all.compactMap(\.applyPath.liveField))
        for field in LiveSettings.Field.allCases {
            #expect(fed.contains(field), "no configuration key declares LiveSettings.\(field)")
        }
    }

    @Test func theFieldsAreExactlyTheStoredPropertiesOfLiveSettings() throws {
        let properties = Mirror(reflecting: try Self.liveSettings(BrokerConfig())).children.compactMap(\.label)
        #expect(properties == LiveSettings.Field.allCases.map(\.rawValue))
    }

    @Test func onlyRestartKeysAreReportedAsNotReloadingLive() {
        let restart = ConfigKey.all.filter { !$0.reloadsLive }.map(\.name)
        #expect(restart == ["host", "port", "threads", "metrics_port", "http_port", "tls_port", "https_port", "plaintext",
                            "engine", "engine_password_file"])
        #expect(ConfigKey.named("capacity")?.applyPath == .liveForNewTopics(.capacity))
        #expect(ConfigKey.named("tcp_keepalive_s")?.applyPath.summary == "yes (new connections)")
        #expect(ConfigKey.named("shutdown_grace_ms")?.applyPath == .atShutdown)
    }
}
