"""The pipeline's task graph: the one source of truth.

workflows/pipeline.sh runs these steps in this order (its `step <key>`
banners), and workflows/databricks/generate.py turns the same list into the
Jobs API 2.1 job (job.json) and the Databricks Asset Bundle
(databricks.yml). //workflows:graph_test fails when any of them disagree.
"""

# key, depends_on, run_if, max_retries, what the task runs.
TASKS = [
    {"key": "data", "depends_on": [], "run_if": "ALL_SUCCESS", "max_retries": 0,
     "description": "generate the shapes data set unless a dataset is given"},
    {"key": "coco_prep", "depends_on": ["data"], "run_if": "ALL_SUCCESS", "max_retries": 1,
     "description": "validate, clean and split the COCO dataset"},
    # Retried on preemption: the wrapper resumes from last.ckpt, which is
    # bit-identical to an uninterrupted run. volume_sync --follow runs beside
    # the trainer inside this task.
    {"key": "train", "depends_on": ["coco_prep"], "run_if": "ALL_SUCCESS", "max_retries": 2,
     "description": "train fit, with volume_sync --follow beside it"},
    {"key": "test", "depends_on": ["train"], "run_if": "ALL_SUCCESS", "max_retries": 1,
     "description": "train test and train predict with the last checkpoint"},
    {"key": "evaluate_map", "depends_on": ["test"], "run_if": "ALL_SUCCESS", "max_retries": 1,
     "description": "COCO mAP of the test predictions"},
    # Always runs, so no MLflow run stays RUNNING after a failure.
    {"key": "mlflow_push", "depends_on": ["evaluate_map"], "run_if": "ALL_DONE",
     "max_retries": 3, "description": "push the run directory to MLflow"},
]

# Job parameters (Databricks job parameters; pipeline.sh flags of the same name).
PARAMETERS = {
    "out": "/Volumes/main/cvtools/runs",
    "images": "",
    "annotations": "",
    "config": "configs/yolo_nano_shapes.textproto",
    "tracking_uri": "databricks",
    "experiment": "/Shared/cvtools/pipeline",
    "volume": "/Volumes/main/cvtools/checkpoints",
    "threads": "0",
    "nproc_per_node": "1",
}
