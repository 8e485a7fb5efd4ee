-- One database per service; run once by the postgres image on an empty data directory.
CREATE DATABASE sightline_pipeline;
CREATE DATABASE sightline_collab;
CREATE DATABASE sightline_alert;
CREATE DATABASE sightline_scoring;
