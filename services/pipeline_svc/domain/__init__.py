"""The pipeline domain: playbook gates and the opportunity aggregate. No framework imports."""
