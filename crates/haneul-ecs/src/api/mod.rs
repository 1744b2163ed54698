//! ECS's operations, one module per resource family. Each validates, then does its writes
//! in one `Store::write`.

pub mod account_settings;
pub mod capacity_providers;
pub mod clusters;
pub mod container_instances;
pub mod daemons;
pub mod execute_command;
pub mod express;
pub mod service_deployments;
pub mod services;
pub mod state_changes;
pub mod tags;
pub mod task_definitions;
pub mod task_protection;
pub mod task_sets;
pub mod tasks;

use haneul_wire::RequestContext;
use serde::Serialize;
use serde_json::Value;

use crate::error::EcsError;
use crate::Ecs;

pub async fn call(ecs: &Ecs, ctx: &RequestContext, operation: &str, input: Value) -> Result<Value, EcsError> {
    match operation {
        "CreateCluster" => clusters::create(ecs, ctx, input).await,
        "DescribeClusters" => clusters::describe(ecs, ctx, input).await,
        "ListClusters" => clusters::list(ecs, ctx, input).await,
        "DeleteCluster" => clusters::delete(ecs, ctx, input).await,
        "UpdateCluster" => clusters::update(ecs, ctx, input).await,
        "UpdateClusterSettings" => clusters::update_settings(ecs, ctx, input).await,
        "PutClusterCapacityProviders" => clusters::put_capacity_providers(ecs, ctx, input).await,
        "RegisterTaskDefinition" => task_definitions::register(ecs, ctx, input).await,
        "DescribeTaskDefinition" => task_definitions::describe(ecs, ctx, input).await,
        "ListTaskDefinitions" => task_definitions::list(ecs, ctx, input).await,
        "ListTaskDefinitionFamilies" => task_definitions::list_families(ecs, ctx, input).await,
        "DeregisterTaskDefinition" => task_definitions::deregister(ecs, ctx, input).await,
        "DeleteTaskDefinitions" => task_definitions::delete(ecs, ctx, input).await,
        "RunTask" => tasks::run(ecs, ctx, input).await,
        "ExecuteCommand" => execute_command::execute(ecs, ctx, input).await,
        "StopTask" => tasks::stop(ecs, ctx, input).await,
        "DescribeTasks" => tasks::describe(ecs, ctx, input).await,
        "ListTasks" => tasks::list(ecs, ctx, input).await,
        "CreateService" => services::create(ecs, ctx, input).await,
        "UpdateService" => services::update(ecs, ctx, input).await,
        "DeleteService" => services::delete(ecs, ctx, input).await,
        "DescribeServices" => services::describe(ecs, ctx, input).await,
        "ListServices" => services::list(ecs, ctx, input).await,
        "PutAccountSetting" => account_settings::put_setting(ecs, ctx, input).await,
        "PutAccountSettingDefault" => account_settings::put_default(ecs, ctx, input).await,
        "DeleteAccountSetting" => account_settings::delete(ecs, ctx, input).await,
        "ListAccountSettings" => account_settings::list(ecs, ctx, input).await,
        "GetTaskProtection" => task_protection::get(ecs, ctx, input).await,
        "UpdateTaskProtection" => task_protection::update(ecs, ctx, input).await,
        "ListServicesByNamespace" => Err(EcsError::NamespaceNotFound),
        "ListServiceDeployments" => service_deployments::list(ecs, ctx, input).await,
        "DescribeServiceDeployments" => service_deployments::describe(ecs, ctx, input).await,
        "DescribeServiceRevisions" => service_deployments::describe_revisions(ecs, ctx, input).await,
        "StopServiceDeployment" => service_deployments::stop(ecs, ctx, input).await,
        "ContinueServiceDeployment" => service_deployments::continue_deployment(ecs, ctx, input).await,
        "RegisterContainerInstance" => container_instances::register(ecs, ctx, input).await,
        "DeregisterContainerInstance" => container_instances::deregister(ecs, ctx, input).await,
        "DescribeContainerInstances" => container_instances::describe(ecs, ctx, input).await,
        "ListContainerInstances" => container_instances::list(ecs, ctx, input).await,
        "UpdateContainerInstancesState" => container_instances::update_state(ecs, ctx, input).await,
        "PutAttributes" => container_instances::put_attributes(ecs, ctx, input).await,
        "DeleteAttributes" => container_instances::delete_attributes(ecs, ctx, input).await,
        "ListAttributes" => container_instances::list_attributes(ecs, ctx, input).await,
        "DiscoverPollEndpoint" => container_instances::discover_poll_endpoint(ecs, ctx, input).await,
        "UpdateContainerAgent" => container_instances::update_agent(ecs, ctx, input).await,
        "TagResource" => tags::tag(ecs, ctx, input).await,
        "UntagResource" => tags::untag(ecs, ctx, input).await,
        "ListTagsForResource" => tags::list(ecs, ctx, input).await,
        "CreateCapacityProvider" => capacity_providers::create(ecs, ctx, input).await,
        "UpdateCapacityProvider" => capacity_providers::update(ecs, ctx, input).await,
        "DeleteCapacityProvider" => capacity_providers::delete(ecs, ctx, input).await,
        "DescribeCapacityProviders" => capacity_providers::describe(ecs, ctx, input).await,
        "CreateTaskSet" => task_sets::create(ecs, ctx, input).await,
        "UpdateTaskSet" => task_sets::update(ecs, ctx, input).await,
        "DeleteTaskSet" => task_sets::delete(ecs, ctx, input).await,
        "DescribeTaskSets" => task_sets::describe(ecs, ctx, input).await,
        "UpdateServicePrimaryTaskSet" => task_sets::update_primary(ecs, ctx, input).await,
        "RegisterDaemonTaskDefinition" => daemons::register_definition(ecs, ctx, input).await,
        "DescribeDaemonTaskDefinition" => daemons::describe_definition(ecs, ctx, input).await,
        "ListDaemonTaskDefinitions" => daemons::list_definitions(ecs, ctx, input).await,
        "DeleteDaemonTaskDefinition" => daemons::delete_definition(ecs, ctx, input).await,
        "CreateDaemon" => daemons::create(ecs, ctx, input).await,
        "UpdateDaemon" => daemons::update(ecs, ctx, input).await,
        "DeleteDaemon" => daemons::delete(ecs, ctx, input).await,
        "DescribeDaemon" => daemons::describe(ecs, ctx, input).await,
        "ListDaemons" => daemons::list(ecs, ctx, input).await,
        "ListDaemonDeployments" => daemons::list_deployments(ecs, ctx, input).await,
        "DescribeDaemonDeployments" => daemons::describe_deployments(ecs, ctx, input).await,
        "DescribeDaemonRevisions" => daemons::describe_revisions(ecs, ctx, input).await,
        "CreateExpressGatewayService" => express::create(ecs, ctx, input).await,
        "UpdateExpressGatewayService" => express::update(ecs, ctx, input).await,
        "DeleteExpressGatewayService" => express::delete(ecs, ctx, input).await,
        "DescribeExpressGatewayService" => express::describe(ecs, ctx, input).await,
        "StartTask" => state_changes::start_task(ecs, ctx, input).await,
        "SubmitTaskStateChange" => state_changes::submit_task(ecs, ctx, input).await,
        "SubmitContainerStateChange" => state_changes::submit_container(ecs, ctx, input).await,
        "SubmitAttachmentStateChanges" => state_changes::submit_attachments(ecs, ctx, input).await,
        other => Err(EcsError::NotImplemented(other.to_string())),
    }
}

/// `{ "<field>": one page of items, "nextToken": … }`: the page from `offset`, and a token
/// for the next one when there is more.
pub(crate) fn paged<T: Serialize>(field: &str, items: &[T], offset: usize, size: usize) -> Value {
    let shown: Vec<&T> = items.iter().skip(offset).take(size).collect();
    let mut out = serde_json::json!({ field: shown });
    if items.len() > offset + size {
        use base64::Engine as _;
        out["nextToken"] =
            serde_json::json!(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode((offset + size).to_string()));
    }
    out
}

pub(crate) fn output<T: Serialize>(value: &T) -> Result<Value, EcsError> {
    serde_json::to_value(value).map_err(|e| EcsError::Client(format!("cannot render the output: {e}")))
}
