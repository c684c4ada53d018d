//! `amqps://` to RabbitMQ through a TLS endpoint of a test CA (`pinit_testkit::tls`): a message goes through
//! encrypted; a certificate of another CA or for another name is refused with [`AmqpError::Certificate`].

use pinit_kernel::config::ConnectionUrl;
use pinit_kernel::tls::{TlsMaterial, TlsSettings};
use pinit_messaging::amqp::{AmqpError, connect_with_tls};
use pinit_testkit::tls::{ProxyTls, TestCa, TlsProxy, socket_addr_of};

async fn endpoint(tls: ProxyTls) -> TlsProxy {
    TlsProxy::amqps(socket_addr_of(&pinit_testkit::amqp_url()), tls).await
}

fn amqps(proxy: &TlsProxy, host: &str) -> ConnectionUrl {
    let mut url = url::Url::parse(&pinit_testkit::amqp_url()).unwrap();
    url.set_scheme("amqps").unwrap();
    url.set_host(Some(host)).unwrap();
    url.set_port(Some(proxy.addr.port())).unwrap();
    ConnectionUrl::from_url(url)
}

fn trusting(ca: &TestCa, client: Option<&str>) -> TlsMaterial {
    let identity = client.map(|stem| ca.issue(stem, &["pinit"]));
    TlsMaterial::load(&TlsSettings {
        ca_file: Some(ca.file()),
        client_cert: identity.as_ref().map(|i| i.cert_file.clone()),
        client_key: identity.as_ref().map(|i| i.key_file.clone()),
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_goes_through_amqps_with_a_client_certificate() {
    use lapin::options::{BasicGetOptions, BasicPublishOptions, QueueDeclareOptions};
    let ca = TestCa::new("test CA");
    let proxy = endpoint(
        ProxyTls::presenting(ca.issue("server", &["localhost"])).require_client_certificate(&ca),
    )
    .await;
    let url = amqps(&proxy, "localhost");
    let refused = connect_with_tls(&url, &trusting(&ca, None), "pinit-test").await;
    assert!(refused.is_err(), "no client certificate, no connection");

    let conn = connect_with_tls(&url, &trusting(&ca, Some("client")), "pinit-test")
        .await
        .expect("amqps with the CA and a client certificate");
    let channel = conn.create_channel().await.unwrap();
    let queue = format!("pinit_tls_test_{}", uuid::Uuid::new_v4().simple());
    let options = QueueDeclareOptions {
        auto_delete: true,
        ..Default::default()
    };
    channel
        .queue_declare(queue.as_str().into(), options, Default::default())
        .await
        .unwrap();
    channel
        .basic_publish(
            "".into(),
            queue.as_str().into(),
            BasicPublishOptions::default(),
            b"over TLS",
            Default::default(),
        )
        .await
        .unwrap();
    let mut got = None;
    for _ in 0..50 {
        got = channel
            .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .unwrap();
        if got.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(got.expect("the message").delivery.data, b"over TLS");
    assert!(proxy.tls_sessions() >= 1);
    let _ = conn.close(200, "done".into()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_ca_or_a_wrong_name_is_a_certificate_error() {
    let ca = TestCa::new("test CA");
    let other = TestCa::new("someone else's CA");
    let foreign = endpoint(ProxyTls::presenting(other.issue("server", &["localhost"]))).await;
    let err = connect_with_tls(
        &amqps(&foreign, "localhost"),
        &trusting(&ca, None),
        "pinit-test",
    )
    .await
    .expect_err("a certificate of an untrusted CA");
    let text = err.to_string();
    assert!(matches!(err, AmqpError::Certificate { .. }), "{text}");
    assert!(
        text.contains("UnknownIssuer") && text.contains(&ca.file().display().to_string()),
        "{text}"
    );

    let elsewhere = endpoint(ProxyTls::presenting(ca.issue("server", &["mq.internal"]))).await;
    let err = connect_with_tls(
        &amqps(&elsewhere, "localhost"),
        &trusting(&ca, None),
        "pinit-test",
    )
    .await
    .expect_err("hostname verification is on");
    let text = err.to_string();
    assert!(matches!(err, AmqpError::Certificate { .. }), "{text}");
    assert!(
        text.contains("not valid for name") && text.contains("`localhost`"),
        "{text}"
    );
}
