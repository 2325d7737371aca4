/**
 * The TLS settings every k8s-ha server shares (the apiserver, the kubelets, etcd): TLS 1.2 or
 * newer, and for TLS 1.2 only forward-secret AEAD suites (CIS 1.2.29, 4.2.12). TLS 1.3 suites are
 * not configurable in Go and are all strong. The certificates are ECDSA; the RSA suites stay for
 * clients that bring their own RSA certificates.
 */
export const TLS_CIPHER_SUITES = [
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
] as const;
