//! A typed client of the market's API, for the command line and the tests.

use agora_api::{
    ApiError,
    market::{
        INFO, MarketInfo, MarketOrder, ORDERS, OrderPage, OrderQuery, SignedOrder, order_path,
        publish_path,
    },
};
use agora_primitives::{AppOrder, DatasetOrder, OrderHash, RequestOrder, Signed, WorkerpoolOrder};
use serde::de::DeserializeOwned;

/// What a call to the market can run into.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The market could not be reached, or did not answer.
    #[error("cannot reach the market at {url}")]
    Unreachable {
        /// What was asked.
        url: String,
        /// Why.
        #[source]
        source: reqwest::Error,
    },
    /// The market's URL is not one.
    #[error("{url} is not a URL")]
    Url {
        /// The URL.
        url: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The market refused: its message says why.
    #[error("{message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The market's message.
        message: String,
    },
    /// The answer is not what the market's API answers.
    #[error("the answer from {url} is not the market's (HTTP {status})")]
    Unexpected {
        /// What was asked.
        url: String,
        /// The HTTP status.
        status: u16,
        /// Why it is not.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// A client of the market at one URL.
#[derive(Debug, Clone)]
pub struct Client {
    url: String,
    http: reqwest::Client,
}

impl Client {
    /// A client of the market at `url` (`http://host:port`).
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into().trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
        }
    }

    /// Publishes a signed order; returns its entry (the stored one if it was published
    /// already).
    pub async fn publish(&self, order: &SignedOrder) -> Result<MarketOrder, ClientError> {
        let url = format!("{}{}", self.url, publish_path(order.kind()));
        let request = self.http.post(&url);
        let request = match order {
            SignedOrder::App(o) => request.json(o),
            SignedOrder::Dataset(o) => request.json(o),
            SignedOrder::Workerpool(o) => request.json(o),
            SignedOrder::Request(o) => request.json(o),
        };
        self.answer(url, request).await
    }

    /// Publishes an app order.
    pub async fn publish_app(&self, order: &Signed<AppOrder>) -> Result<MarketOrder, ClientError> {
        self.publish(&SignedOrder::App(order.clone())).await
    }

    /// Publishes a dataset order.
    pub async fn publish_dataset(
        &self,
        order: &Signed<DatasetOrder>,
    ) -> Result<MarketOrder, ClientError> {
        self.publish(&SignedOrder::Dataset(order.clone())).await
    }

    /// Publishes a workerpool order.
    pub async fn publish_workerpool(
        &self,
        order: &Signed<WorkerpoolOrder>,
    ) -> Result<MarketOrder, ClientError> {
        self.publish(&SignedOrder::Workerpool(order.clone())).await
    }

    /// Publishes a request order.
    pub async fn publish_request(
        &self,
        order: &Signed<RequestOrder>,
    ) -> Result<MarketOrder, ClientError> {
        self.publish(&SignedOrder::Request(order.clone())).await
    }

    /// One page of the orders `query` selects.
    pub async fn list(&self, query: &OrderQuery) -> Result<OrderPage, ClientError> {
        let base = format!("{}{ORDERS}", self.url);
        let url = reqwest::Url::parse_with_params(&base, query.to_pairs()).map_err(|e| {
            ClientError::Url {
                url: base.clone(),
                source: Box::new(e),
            }
        })?;
        let request = self.http.get(url.clone());
        self.answer(url.to_string(), request).await
    }

    /// The order `hash`, if it is published here.
    pub async fn get(&self, hash: OrderHash) -> Result<Option<MarketOrder>, ClientError> {
        let url = format!("{}{}", self.url, order_path(hash));
        let request = self.http.get(&url);
        match self.answer(url, request).await {
            Ok(order) => Ok(Some(order)),
            Err(ClientError::Refused { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The chain and hub the market serves, and how far it has followed the chain.
    pub async fn info(&self) -> Result<MarketInfo, ClientError> {
        let url = format!("{}{INFO}", self.url);
        let request = self.http.get(&url);
        self.answer(url, request).await
    }

    async fn answer<T: DeserializeOwned>(
        &self,
        url: String,
        request: reqwest::RequestBuilder,
    ) -> Result<T, ClientError> {
        let response = match request.send().await {
            Ok(response) => response,
            Err(source) => return Err(ClientError::Unreachable { url, source }),
        };
        let status = response.status().as_u16();
        let bytes = match response.bytes().await {
            Ok(bytes) => bytes,
            Err(source) => return Err(ClientError::Unreachable { url, source }),
        };
        let unexpected = |source: serde_json::Error| ClientError::Unexpected {
            url: url.clone(),
            status,
            source: Box::new(source),
        };
        if (200..300).contains(&status) {
            return serde_json::from_slice(&bytes).map_err(unexpected);
        }
        let error: ApiError = serde_json::from_slice(&bytes).map_err(unexpected)?;
        Err(ClientError::Refused {
            status,
            message: error.error,
        })
    }
}
