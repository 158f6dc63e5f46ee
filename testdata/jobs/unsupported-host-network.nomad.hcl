job "edge" {
  group "proxy" {
    network {
      mode = "bridge"
      port "https" {
        static       = 443
        to           = 8443
        host_network = "public"
      }
      dns {
        servers = ["1.1.1.1"]
      }
    }
  }
}
