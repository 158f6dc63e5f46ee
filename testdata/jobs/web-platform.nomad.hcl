# A realistic service job: variables, locals with interpolation, constraints,
# services with checks, templates with heredocs and directives, several ports.
variable "image_tag" {
  type    = string
  default = "2.3.1"
}

variable "replicas" {
  type    = number
  default = 3
}

locals {
  image = "registry.example.invalid/web:${var.image_tag}"
  env   = { LOG_LEVEL = "info", REGION = "${node.region}" }
}

job "web-platform" {
  datacenters = ["dc1", "dc2"]
  namespace   = "default"

  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }

  update {
    max_parallel     = 1
    min_healthy_time = "10s"
    auto_revert      = true
  }

  group "web" {
    count = 3

    network {
      mode = "bridge"

      port "http" {
        to = 8080
      }

      port "metrics" {
        to = -1
      }

      port "admin" {
        static = 9901
        to     = 9901
      }
    }

    restart {
      attempts = 2
      interval = "30m"
      delay    = "15s"
      mode     = "fail"
    }

    service {
      name = "web"
      port = "http"
      tags = ["urlprefix-/", "version-${var.image_tag}"]

      check {
        type     = "http"
        path     = "/healthz"
        interval = "10s"
        timeout  = "2s"
      }
    }

    task "web" {
      driver = "docker"

      config {
        image = local.image
        ports = ["http", "metrics", "admin"]
      }

      env {
        LOG_LEVEL = "info"
        REGION    = "${node.region}"
      }

      template {
        destination = "local/app.yaml"
        change_mode = "signal"
        change_signal = "SIGHUP"
        data = <<-EOT
          listen: 0.0.0.0:{{ env "NOMAD_PORT_http" }}
          %{ for k, v in local.env ~}
          ${k}: ${v}
          %{ endfor ~}
          upstreams:
          {{- range service "db" }}
            - {{ .Address }}:{{ .Port }}
          {{- end }}
        EOT
      }

      resources {
        cpu    = 500
        memory = 512
      }
    }
  }

  group "worker" {
    count = 2

    task "worker" {
      driver = "docker"

      config {
        image   = local.image
        command = "worker"
      }

      vault {
        policies = ["worker"]
      }
    }
  }
}
