// Help texts pinned whole: any change to them is a visible, reviewed change.
import Testing
@testable import broker_cli

@Suite struct HelpTexts {
    @Test func toolHelpIsPinned() {
        let expected = #"""
        OVERVIEW: Publish, subscribe, check, watch and benchmark a broker

        USAGE: broker-cli [--host <host>] [--port <port>] <subcommand> [<options>] [<arguments>]

        OPTIONS:
              --host <host>         Broker host name or IP address (default: 127.0.0.1)
              --port <port>         Broker TCP port (default: 7400)
              --server <list>       Brokers to try in order, host:port,host:port,...: the
                                    first that answers is used, and sub fails over to the
                                    next when its connection drops; ws://host:port/ws is a
                                    broker's WebSocket on its HTTP port; tls://host:port
                                    and wss://host:port/ws speak TLS
              --timeout <seconds>   Connect timeout (default: 5)
              --token <token>       Send AUTH <token> after connecting (default: BROKER_TOKEN)
              --user <name>         Send AUTH <name> <token>: an acl_file user (default:
                                    BROKER_USER)
              --tls                 Speak TLS to every broker given (its certificate is
                                    checked against the system's CAs and the host name)
              --ca <file>           Trust the CAs of this PEM file instead (implies --tls)
              --cert <file>         Present this PEM certificate when the broker asks for
              --key <file>          one, with its key (implies --tls)
              --insecure            Do not check the broker's certificate (tests only)
          -h, --help                Show help information
              --version             Show the version

          Options may come before or after the subcommand; '--' ends the options.
          BROKER_ADDR=host:port (or [ipv6]:port, tls://host:port, ws[s]://host:port/ws, or several
          separated by commas, as --server)
          sets the broker; --server, --host and --port win over it.
          BROKER_TOKEN=<token> is sent with AUTH when the broker needs one; --token wins over it;
          BROKER_USER=<name> names its acl_file user; --user wins over it.
          A refused token prints 'authentication failed' and exits with status 1.

        SUBCOMMANDS:
          pub                       Publish a message, or every line of stdin
          sub                       Print the messages of topics or patterns
          ping                      Measure the round trip to the broker
          bench                     Measure publish and delivery rates and latency
          stats                     Show the broker's or a topic's figures, or watch rates
          top                       Show the most lagged subscribers, live

          See 'broker-cli help <subcommand>' for detailed help.

        EXAMPLES:
          broker-cli pub orders.eu.created '{"id": 1}'
          broker-cli sub 'orders.>'
          BROKER_ADDR=[::1]:7401 broker-cli ping
          BROKER_TOKEN=s3cret broker-cli stats --watch

        """#
        #expect(helpText(nil) == expected)
    }

    @Test func pubHelpIsPinned() {
        let expected = #"""
        OVERVIEW: Publish a message, or every line of stdin

          The words of the message are joined with single spaces. With no message, or
          '-', every line of stdin is one message (empty lines are skipped); they are
          pipelined, and broker-cli exits once every one has been answered.
          --file and --binary publish one message of any bytes (LF, CR and NUL
          included) with BPUB: a file's contents, or all of stdin. The broker refuses
          a payload over its max_payload_bytes (default 1 MiB).
          The broker checks the topic; its refusal is printed and the exit status is 1.

        USAGE: broker-cli pub <topic> [<message> ...] [<options>]
               broker-cli pub <topic> (--file <path> | --binary) [<options>]

        OPTIONS:
          -v, --verbose             Print how many subscribers received the message
                                    (with --file or --binary, also its EPOCH:SEQ;
                                    with stdin: totals on stderr)
              --file <path>         Publish the file's bytes as one message
              --binary              Publish all of stdin as one message
              --host <host>         Broker host name or IP address (default: 127.0.0.1)
              --port <port>         Broker TCP port (default: 7400)
              --server <list>       Brokers to try in order, host:port,host:port,...: the
                                    first that answers is used, and sub fails over to the
                                    next when its connection drops; ws://host:port/ws is a
                                    broker's WebSocket on its HTTP port; tls://host:port
                                    and wss://host:port/ws speak TLS
              --timeout <seconds>   Connect timeout (default: 5)
              --token <token>       Send AUTH <token> after connecting (default: BROKER_TOKEN)
              --user <name>         Send AUTH <name> <token>: an acl_file user (default:
                                    BROKER_USER)
              --tls                 Speak TLS to every broker given (its certificate is
                                    checked against the system's CAs and the host name)
              --ca <file>           Trust the CAs of this PEM file instead (implies --tls)
              --cert <file>         Present this PEM certificate when the broker asks for
              --key <file>          one, with its key (implies --tls)
              --insecure            Do not check the broker's certificate (tests only)
          -h, --help                Show help information

        EXAMPLES:
          broker-cli pub orders.eu.created hello world
          broker-cli pub -v alerts -- -5
          seq 1000000 | broker-cli pub numbers
          broker-cli pub images.logo --file logo.png
          gzip -c report.txt | broker-cli pub reports --binary

        """#
        #expect(helpText(.pub) == expected)
    }

    @Test func subHelpIsPinned() {
        let expected = #"""
        OVERVIEW: Print the messages of topics or patterns

          Prints each message's payload on its own line. A pattern level '*' matches
          one level, a last level '>' one or more. Lag reports from the broker, and
          gaps in the sequences that no report explains, are printed on stderr. If an
          established connection drops, broker-cli reconnects and subscribes again:
          each topic resumes after its last message received (the messages the broker
          still holds are printed, the others counted as lagged); when the broker's
          stream is a new one (a restart), 'position lost' is printed instead.
          Patterns and groups resume with live messages. Ctrl-C exits with status 0.

          sub speaks protocol version 2. With a broker that knows only version 1 it
          goes on in version 1 (no sequences, no resuming), unless --protocol 2,
          --from, --last, --group or --seq asks for version 2: then it exits with 1.

        USAGE: broker-cli sub <topic-or-pattern> ... [<options>]

        OPTIONS:
          -v, --verbose             Print 'topic payload'; totals on stderr at exit
              --seq                 Print each message's sequence before its payload
              --json                Print {"topic": ..., "epoch": ..., "seq": ...,
                                    "payload": ..., "time": ...} lines; a payload that
                                    is not UTF-8 is base64, with "base64": true
              --count <n>           Exit after n messages
              --from <epoch:seq>    Start after this position of the one topic
              --last <n>            Start with the last n messages the topic holds
              --group <name>        Join the queue group <name>: each message goes to
                                    one member of the group
              --protocol <1|2>      Protocol version to speak (default: 2)
              --no-reconnect        Exit with status 1 when the connection drops
              --host <host>         Broker host name or IP address (default: 127.0.0.1)
              --port <port>         Broker TCP port (default: 7400)
              --server <list>       Brokers to try in order, host:port,host:port,...: the
                                    first that answers is used, and sub fails over to the
                                    next when its connection drops; ws://host:port/ws is a
                                    broker's WebSocket on its HTTP port; tls://host:port
                                    and wss://host:port/ws speak TLS
              --timeout <seconds>   Connect timeout (default: 5)
              --token <token>       Send AUTH <token> after connecting (default: BROKER_TOKEN)
              --user <name>         Send AUTH <name> <token>: an acl_file user (default:
                                    BROKER_USER)
              --tls                 Speak TLS to every broker given (its certificate is
                                    checked against the system's CAs and the host name)
              --ca <file>           Trust the CAs of this PEM file instead (implies --tls)
              --cert <file>         Present this PEM certificate when the broker asks for
              --key <file>          one, with its key (implies --tls)
              --insecure            Do not check the broker's certificate (tests only)
          -h, --help                Show help information

        EXAMPLES:
          broker-cli sub orders.eu.created
          broker-cli sub -v --seq 'orders.*.created' 'alerts.>'
          broker-cli sub --json --count 10 orders.eu.created
          broker-cli sub --from k3x9:1200 orders.eu.created
          broker-cli sub --group workers jobs

        """#
        #expect(helpText(.sub) == expected)
    }

    @Test func pingHelpIsPinned() {
        let expected = #"""
        OVERVIEW: Measure the round trip to the broker

          Sends PING and prints the time until PONG. The exit status is 0 when the
          broker answered (within the timeout), 1 otherwise.

        USAGE: broker-cli ping [<options>]

        OPTIONS:
              --host <host>         Broker host name or IP address (default: 127.0.0.1)
              --port <port>         Broker TCP port (default: 7400)
              --server <list>       Brokers to try in order, host:port,host:port,...: the
                                    first that answers is used, and sub fails over to the
                                    next when its connection drops; ws://host:port/ws is a
                                    broker's WebSocket on its HTTP port; tls://host:port
                                    and wss://host:port/ws speak TLS
              --timeout <seconds>   Connect timeout (default: 5)
              --token <token>       Send AUTH <token> after connecting (default: BROKER_TOKEN)
              --user <name>         Send AUTH <name> <token>: an acl_file user (default:
                                    BROKER_USER)
              --tls                 Speak TLS to every broker given (its certificate is
                                    checked against the system's CAs and the host name)
              --ca <file>           Trust the CAs of this PEM file instead (implies --tls)
              --cert <file>         Present this PEM certificate when the broker asks for
              --key <file>          one, with its key (implies --tls)
              --insecure            Do not check the broker's certificate (tests only)
          -h, --help                Show help information

        EXAMPLES:
          broker-cli ping
          broker-cli ping --port 7401 --timeout 1

        """#
        #expect(helpText(.ping) == expected)
    }

    @Test func benchHelpIsPinned() {
        let expected = #"""
        OVERVIEW: Measure publish and delivery rates and latency

          Subscribers connect and subscribe first, then publishers send their share of
          the messages, pipelined. Each payload carries its send time, so subscribers
          measure latency. Reports the publish rate, the delivery rate per subscriber
          and in total, lag, and latency percentiles.

        USAGE: broker-cli bench [<options>]

        OPTIONS:
              --pubs <n>            Publishing connections (default: 1)
              --subs <n>            Subscribing connections (default: 1)
              --msgs <n>            Messages in total, across publishers (default: 100000)
              --size <bytes>        Payload size, at least 16 (default: 128)
              --topic <topic>       Topic to use (default: bench)
              --protocol <1|2>      Protocol version of the subscribers: 2 reads sized
                                    frames with sequences (default: 1)
              --json                Print the report as one JSON object
              --host <host>         Broker host name or IP address (default: 127.0.0.1)
              --port <port>         Broker TCP port (default: 7400)
              --server <list>       Brokers to try in order, host:port,host:port,...: the
                                    first that answers is used, and sub fails over to the
                                    next when its connection drops; ws://host:port/ws is a
                                    broker's WebSocket on its HTTP port; tls://host:port
                                    and wss://host:port/ws speak TLS
              --timeout <seconds>   Connect timeout (default: 5)
              --token <token>       Send AUTH <token> after connecting (default: BROKER_TOKEN)
              --user <name>         Send AUTH <name> <token>: an acl_file user (default:
                                    BROKER_USER)
              --tls                 Speak TLS to every broker given (its certificate is
                                    checked against the system's CAs and the host name)
              --ca <file>           Trust the CAs of this PEM file instead (implies --tls)
              --cert <file>         Present this PEM certificate when the broker asks for
              --key <file>          one, with its key (implies --tls)
              --insecure            Do not check the broker's certificate (tests only)
          -h, --help                Show help information

        EXAMPLES:
          broker-cli bench
          broker-cli bench --pubs 4 --subs 4 --msgs 1000000 --size 64
          broker-cli bench --protocol 2 --msgs 1000000
          broker-cli bench --json > report.json

        """#
        #expect(helpText(.bench) == expected)
    }

    @Test func statsHelpIsPinned() {
        let expected = #"""
        OVERVIEW: Show the broker's or a topic's figures, or watch rates

          Sends STATS and prints each figure on its own line, with bytes and uptime
          also in human units. With a topic, prints that topic's figures (STATS
          <topic>); a topic that does not exist now is an error (status 1).
          --watch prints one line per refresh with the rates per second of the
          counters (published, delivered, lagged events and messages, bytes in and
          out), a header every 20 lines, until Ctrl-C (status 0) or --count.

        USAGE: broker-cli stats [<topic>] [<options>]

        OPTIONS:
              --json                Print one JSON object (with --watch: one per refresh)
              --watch               Refresh and print rates per second
              --interval <seconds>  Time between refreshes with --watch (default: 1)
              --count <n>           Exit after n refreshes with --watch
              --host <host>         Broker host name or IP address (default: 127.0.0.1)
              --port <port>         Broker TCP port (default: 7400)
              --server <list>       Brokers to try in order, host:port,host:port,...: the
                                    first that answers is used, and sub fails over to the
                                    next when its connection drops; ws://host:port/ws is a
                                    broker's WebSocket on its HTTP port; tls://host:port
                                    and wss://host:port/ws speak TLS
              --timeout <seconds>   Connect timeout (default: 5)
              --token <token>       Send AUTH <token> after connecting (default: BROKER_TOKEN)
              --user <name>         Send AUTH <name> <token>: an acl_file user (default:
                                    BROKER_USER)
              --tls                 Speak TLS to every broker given (its certificate is
                                    checked against the system's CAs and the host name)
              --ca <file>           Trust the CAs of this PEM file instead (implies --tls)
              --cert <file>         Present this PEM certificate when the broker asks for
              --key <file>          one, with its key (implies --tls)
              --insecure            Do not check the broker's certificate (tests only)
          -h, --help                Show help information

        EXAMPLES:
          broker-cli stats
          broker-cli stats orders.eu.created --json
          broker-cli stats --watch --interval 5

        """#
        #expect(helpText(.stats) == expected)
    }

    @Test func topHelpIsPinned() {
        let expected = #"""
        OVERVIEW: Show the most lagged subscribers, live

          Subscribes to $SYS.lagged and counts, per client, address and topic, the lag
          reports and the messages missed. Every interval it shows the STATS figures
          (connections, topics, lagged totals and rates) and the subscribers sorted by
          messages missed in the last interval, then in total. With --http, the table
          comes from the broker's /api/v1/connections instead: per connection and
          topic, how many messages it is behind now and how many it missed in all,
          most behind first. On a terminal the screen is redrawn in place; otherwise
          one table is printed per refresh, separated by a blank line. Ctrl-C exits
          with status 0.

        USAGE: broker-cli top [<options>]

        OPTIONS:
              --interval <seconds>  Time between refreshes (default: 1)
              --count <n>           Exit after n refreshes
              --limit <n>           Rows to show (default: 20)
              --http <host:port>    The broker's HTTP port: show who is behind now
              --host <host>         Broker host name or IP address (default: 127.0.0.1)
              --port <port>         Broker TCP port (default: 7400)
              --server <list>       Brokers to try in order, host:port,host:port,...: the
                                    first that answers is used, and sub fails over to the
                                    next when its connection drops; ws://host:port/ws is a
                                    broker's WebSocket on its HTTP port; tls://host:port
                                    and wss://host:port/ws speak TLS
              --timeout <seconds>   Connect timeout (default: 5)
              --token <token>       Send AUTH <token> after connecting (default: BROKER_TOKEN)
              --user <name>         Send AUTH <name> <token>: an acl_file user (default:
                                    BROKER_USER)
              --tls                 Speak TLS to every broker given (its certificate is
                                    checked against the system's CAs and the host name)
              --ca <file>           Trust the CAs of this PEM file instead (implies --tls)
              --cert <file>         Present this PEM certificate when the broker asks for
              --key <file>          one, with its key (implies --tls)
              --insecure            Do not check the broker's certificate (tests only)
          -h, --help                Show help information

        EXAMPLES:
          broker-cli top
          broker-cli top --http 127.0.0.1:8080
          broker-cli top --limit 5 --interval 2
          broker-cli top --count 1 > lagged.txt

        """#
        #expect(helpText(.top) == expected)
    }

    @Test func everyHelpHasTheSections() {
        for topic in [nil] + Subcommand.allCases.map(Optional.some) {
            let text = helpText(topic)
            #expect(text.hasPrefix("OVERVIEW: "))
            #expect(text.contains("\nUSAGE: broker-cli "))
            #expect(text.contains("\nOPTIONS:\n"))
            #expect(text.contains("\nEXAMPLES:\n"))
        }
        #expect(helpText(nil).contains("\nSUBCOMMANDS:\n"))
    }
}
