-- wrk script: POST /api/v1/screen with a JSON proposal and the bearer token from $TOKEN.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.body = [[{"title": "Robot grasping with tactile sensing", "research_fields": ["2.3", "1.2"],
  "technology_areas": ["robotics"], "duration_months": 24,
  "partners": [{"name": "Harbin Institute of Technology", "country": "CN", "type": "university"},
               {"name": "University of Copenhagen", "country": "DK", "type": "university"}]}]]
