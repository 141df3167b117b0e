"""The Airflow DAG names as Dagster jobs and schedules."""
