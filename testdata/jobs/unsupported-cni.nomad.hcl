job "custom-net" {
  group "app" {
    network {
      mode = "cni/mynet"
      port "http" {
        to = 80
      }
    }

    task "app" {
      driver = "docker"
      config {
        image = "nginx"
      }
    }
  }
}
