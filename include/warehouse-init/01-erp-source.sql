-- The demo's ERP source lives beside the warehouse; a real deployment points
-- AIRFLOW_CONN_ONETOONE_ERP_SOURCE at the ERP's own database instead.
create database erp_source;
