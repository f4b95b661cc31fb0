# The image `fleet render kubernetes` CronJobs run: this program and its language host, the Pulumi
# CLI, and the provider plugins pinned in src/clouds/mod.rs (a test checks that the pins below agree),
# so a scheduled scan downloads nothing.
#
#   docker build -t registry.example.com/pulumi-cloud-import:0.1.0 .
#
# The project directory is /app (Pulumi.yaml finds the language host in /app/target/release), and the
# plugins live in PULUMI_HOME=/opt/pulumi, owned by the unprivileged user the jobs run as (1000).

FROM rust:1.94.1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bins

FROM debian:bookworm-slim
ARG PULUMI_VERSION=3.276.0
ARG AWS_NATIVE_VERSION=1.74.1
ARG AZURE_NATIVE_VERSION=3.29.0
ARG KUBERNETES_VERSION=4.32.0
ARG OCI_VERSION=4.20.0
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 1000 --create-home --home-dir /home/pulumi pulumi
ENV PULUMI_HOME=/opt/pulumi \
    PULUMI_SKIP_UPDATE_CHECK=true \
    PATH=/opt/pulumi/bin:/app/target/release:$PATH
RUN curl -fsSL https://get.pulumi.com/releases/sdk/pulumi-v${PULUMI_VERSION}-linux-x64.tar.gz \
    | tar -xz -C /tmp \
 && mkdir -p /opt/pulumi/bin \
 && mv /tmp/pulumi/* /opt/pulumi/bin/ \
 && rm -rf /tmp/pulumi \
 && pulumi version \
 && pulumi plugin install resource aws-native ${AWS_NATIVE_VERSION} \
 && pulumi plugin install resource azure-native ${AZURE_NATIVE_VERSION} \
 && pulumi plugin install resource kubernetes ${KUBERNETES_VERSION} \
 && pulumi plugin install resource oci ${OCI_VERSION} \
 && chown -R 1000:1000 /opt/pulumi
WORKDIR /app
COPY --from=build /src/Pulumi.yaml /app/Pulumi.yaml
COPY --from=build /src/target/release/pulumi-cloud-import /src/target/release/pulumi-language-rust /app/target/release/
RUN chown -R 1000:1000 /app
USER 1000
ENTRYPOINT ["pulumi-cloud-import"]
