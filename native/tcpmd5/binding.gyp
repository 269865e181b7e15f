{
  "targets": [
    {
      "target_name": "tcpmd5",
      "sources": ["src/tcpmd5.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
