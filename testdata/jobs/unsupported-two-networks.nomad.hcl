job "twice" {
  group "g" {
    network {
      mode = "bridge"
    }
    network {
      mode = "host"
    }
  }
}
