# A periodic batch job: no group network at all.
job "nightly-report" {
  type        = "batch"
  datacenters = ["dc1"]

  periodic {
    crons            = ["0 3 * * *"]
    prohibit_overlap = true
  }

  parameterized {
    meta_optional = ["day"]
  }

  group "report" {
    count = 0

    ephemeral_disk {
      size = 500
    }

    task "report" {
      driver = "raw_exec"

      config {
        command = "/usr/local/bin/report"
        args    = ["--day", "${NOMAD_META_day}"]
      }

      template {
        data        = <<EOF2
day={{ env "NOMAD_META_day" }}
EOF2
        destination = "local/report.env"
      }
    }
  }
}
