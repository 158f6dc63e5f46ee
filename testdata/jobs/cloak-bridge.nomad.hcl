# The seed scenario: a cache and a web front, each in its own group, in bridge mode.
job "cloak" {
  datacenters = ["dc1"]
  type        = "service"

  group "redis" {
    network {
      mode = "bridge"
      port "redis" {
        to = 6379
      }
    }

    service {
      name     = "redis"
      port     = "redis"
      provider = "nomad"
    }

    task "redis" {
      driver = "docker"

      config {
        image = "redis:7"
        ports = ["redis"]
      }

      resources {
        cpu    = 200
        memory = 256
      }
    }
  }

  group "cloak" {
    count = 1

    network {
      mode = "bridge"
      port "cloak" {
        static = 7000
        to     = 7000
      }
    }

    task "cloak" {
      driver = "docker"

      config {
        image = "example/cloak:1.4"
        ports = ["cloak"]
      }

      template {
        data        = <<EOH
{{ range nomadService "redis" }}
REDIS_ADDR={{ .Address }}:{{ .Port }}
{{ end }}
EOH
        destination = "local/env"
        env         = true
      }
    }
  }
}
