//! Discovery (RFC 7644 §4): what the portal's SCIM endpoint can do, its one resource type and its
//! schemas. `base` is the endpoint's URL (`https://portal/scim/v2`), for `meta.location`.

use serde_json::{json, Value};

use super::schema::{ENTERPRISE_SCHEMA_JSON, USER_SCHEMA_JSON};
use super::{ENTERPRISE_SCHEMA, LIST_SCHEMA, MAX_RESULTS, USER_SCHEMA};

/// `/ServiceProviderConfig`.
pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": "A token an operator of the portal makes for the IdM \
                            (operator page, or `ra-portal scim-token create`).",
            "primary": true
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base}/ServiceProviderConfig")
        }
    })
}

/// The User resource type.
pub fn user_resource_type(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "User Account",
        "schema": USER_SCHEMA,
        "schemaExtensions": [{"schema": ENTERPRISE_SCHEMA, "required": false}],
        "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User")}
    })
}

/// One published schema with its `meta`, by id (any case).
pub fn schema(base: &str, id: &str) -> Option<Value> {
    let source = if id.eq_ignore_ascii_case(USER_SCHEMA) {
        &*USER_SCHEMA_JSON
    } else if id.eq_ignore_ascii_case(ENTERPRISE_SCHEMA) {
        &*ENTERPRISE_SCHEMA_JSON
    } else {
        return None;
    };
    let mut schema = source.clone();
    let object = schema.as_object_mut()?;
    let id = object.get("id")?.as_str()?.to_owned();
    object.insert(
        "schemas".into(),
        json!(["urn:ietf:params:scim:schemas:core:2.0:Schema"]),
    );
    object.insert(
        "meta".into(),
        json!({"resourceType": "Schema", "location": format!("{base}/Schemas/{id}")}),
    );
    Some(schema)
}

/// A list answer of everything given (discovery lists are never paged).
pub fn list(resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": resources.len(),
        "startIndex": 1,
        "itemsPerPage": resources.len(),
        "Resources": resources
    })
}

/// `/Schemas`.
pub fn schemas(base: &str) -> Value {
    list(
        [USER_SCHEMA, ENTERPRISE_SCHEMA]
            .iter()
            .filter_map(|id| schema(base, id))
            .collect(),
    )
}

/// `/ResourceTypes`.
pub fn resource_types(base: &str) -> Value {
    list(vec![user_resource_type(base)])
}
