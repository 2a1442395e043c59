import ConnectorServer
import ServiceLifecycle
import UnixSignals

/// On SIGHUP, has the daemon look up group membership again (a user added to
/// or removed from an `--admin-group` counts at once). Ends with the service
/// group.
struct ReloadOnHangup: Service {
    let daemon: ConnectorDaemon
    /// SIGHUP, trapped before the daemon listens (untrapped, it would end the daemon).
    let hangups: UnixSignalsSequence

    func run() async throws {
        for await _ in hangups.cancelOnGracefulShutdown() {
            daemon.reloadAccessPolicy()
        }
    }
}
