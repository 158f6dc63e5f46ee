job "broken" {
  group "g" {
    network {
      mode = "bridge"
      port "http" {
        to = 80
    }
  }
}
