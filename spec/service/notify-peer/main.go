// A stand-in for systemd's notification socket (NOTIFY_SOCKET), for tests:
// binds an AF_UNIX datagram socket, prints "ready" once listening, then one
// JSON line per datagram with its text and the sender's pid (SCM_CREDENTIALS).
// File descriptors passed along (systemd-notify's BARRIER=1) are closed, which
// is what releases the sender's barrier wait, as systemd does.
package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"syscall"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: notify-peer SOCKET_PATH")
		os.Exit(2)
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: os.Args[1], Net: "unixgram"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	raw, err := conn.SyscallConn()
	if err == nil {
		raw.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_PASSCRED, 1) })
	}
	fmt.Println("ready")
	buf := make([]byte, 4096)
	oob := make([]byte, 4096)
	out := json.NewEncoder(os.Stdout)
	for {
		n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		pid := int32(0)
		fds := 0
		if msgs, err := syscall.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for _, m := range msgs {
				if cred, err := syscall.ParseUnixCredentials(&m); err == nil {
					pid = cred.Pid
				}
				if rights, err := syscall.ParseUnixRights(&m); err == nil {
					for _, fd := range rights {
						syscall.Close(fd)
						fds++
					}
				}
			}
		}
		out.Encode(map[string]any{"text": string(buf[:n]), "pid": pid, "fds": fds})
	}
}
