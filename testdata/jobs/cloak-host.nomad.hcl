# The seed scenario in host mode: no namespaces, the tasks bind host ports themselves.
job "cloak" {
  datacenters = ["dc1"]

  group "redis" {
    network {
      port "redis" {}
    }

    task "redis" {
      driver = "exec"

      config {
        command = "/usr/bin/redis-server"
        args    = ["--port", "${NOMAD_PORT_redis}"]
      }
    }
  }

  group "cloak" {
    network {
      mode = "host"
      port "cloak" {
        static = 7000
      }
    }

    task "cloak" {
      driver = "exec"

      config {
        command = "local/cloak"
        args    = ["-listen", "${NOMAD_ADDR_cloak}"]
      }

      artifact {
        source = "https://example.invalid/cloak.tar.gz"
      }
    }
  }
}
